"""HTTP-level behaviour: unknown paths and methods, unexpected failures, the OpenAPI description."""

from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import sys
import time

import pytest

from api.harness import LiveServer, Tenant, contract_json
from cloudrec.recorder.spec import SetLayout


@pytest.mark.parametrize("path", ["/", "/nope", "/v1/record", "/v1/record/unknown", "/v2/record/init"])
def test_unknown_paths_answer_json_404(live_server: LiveServer, path: str) -> None:
    with live_server.http() as c:
        r = c.get(path)
    assert r.status_code == 404
    reply = contract_json(r)
    assert reply["code"] == 6050030003 and path in reply["msg"]


def test_trailing_slash_is_not_redirected(tenant: Tenant) -> None:
    r = tenant.client.post("/v1/record/init/", json={"app_id": tenant.app_id, "group_id": "g"})
    assert r.status_code == 404 and contract_json(r)["code"] == 6050030003


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/record/init"),
        ("PUT", "/v1/record/finish"),
        ("POST", "/v1/record/task/list"),
        ("DELETE", "/v1/record/file"),
        ("POST", "/access/token"),
        ("POST", "/download/a/b.mp4"),
    ],
)
def test_wrong_methods_answer_json_405(live_server: LiveServer, method: str, path: str) -> None:
    with live_server.http() as c:
        r = c.request(method, path)
    assert r.status_code == 405
    assert contract_json(r)["code"] == 6050030003
    assert r.headers["allow"]


def test_unexpected_failure_is_json_500_and_logged(
    tenant: Tenant, live_server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    record_id = tenant.init()
    live_server.host.command_error = RuntimeError("the recorder host broke")
    with caplog.at_level(logging.ERROR, logger="cloudrec.api.errors"):
        r = tenant.client.post(
            "/v1/record/set/layout", json={"app_id": tenant.app_id, "record_id": record_id}
        )
    assert r.status_code == 500
    assert contract_json(r) == {"code": 6050030000, "msg": "internal failure"}
    assert any("internal failure" in rec.getMessage() for rec in caplog.records)
    assert "the recorder host broke" in caplog.text
    # the desired state was stored first; the next command reaches the recorder
    assert tenant.task(record_id)["status"] == 2
    assert tenant.call("/v1/record/set/layout", record_id=record_id)["code"] == 0
    assert SetLayout in {type(c) for c in live_server.host.commands_of(record_id)}


def test_tokens_are_never_logged(tenant: Tenant, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        tenant.server.access_token(tenant.dev_id, tenant.dev_secret)
        tenant.init()
        with tenant.server.http() as c:
            c.get("/access/token", params={"dev_id": tenant.dev_id, "token": "1-2-3"})
    server_side = [r for r in caplog.records if r.name.split(".")[0] in ("cloudrec", "uvicorn", "fastapi")]
    assert any("developer token refused" in r.getMessage() for r in server_side)
    logged = "\n".join(r.getMessage() for r in server_side)
    # one line per request: method, path (without its query), status, time
    assert re.search(r"^GET /access/token 200 \d+\.\d ms$", logged, re.M), logged
    assert re.search(r"^POST /v1/record/init 200 \d+\.\d ms$", logged, re.M), logged
    for secret in (tenant.access_token, tenant.dev_secret, "1-2-3"):
        assert secret not in logged


def test_openapi_describes_the_contract(live_server: LiveServer) -> None:
    with live_server.http() as c:
        spec = c.get("/openapi.json").json()
        assert c.get("/docs").status_code == 200
    paths = spec["paths"]
    assert set(paths) == {
        "/access/token",
        "/v1/record/init",
        "/v1/record/set/layout",
        "/v1/record/set/subtitle",
        "/v1/record/set-output-overlay",
        "/v1/record/suspend",
        "/v1/record/resume",
        "/v1/record/finish",
        "/v1/record/task/list",
        "/v1/record/file/download/url",
        "/v1/record/file",
        "/v1/group/stream/publish",
        "/v1/group/stream/unpublish",
        "/v1/group/stream/list",
        "/v1/app/callback",
        "/download/{key}",
        "/server/address",
        "/v1/record/snapshot",
        "/v1/record/task/info",
        "/v1/app/list",
    }
    schemas = spec["components"]["schemas"]
    for path in (
        "/v1/record/init",
        "/v1/record/set/layout",
        "/v1/record/set/subtitle",
        "/v1/record/file",
        "/v1/group/stream/publish",
        "/v1/app/callback",
    ):
        body = paths[path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert body.removeprefix("#/components/schemas/") in schemas
    assert set(paths["/v1/record/file"]["post"]["requestBody"]["content"]) == {
        "application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    }
    init = schemas["InitRequest"]
    assert init["required"] == ["app_id", "group_id"]
    props = init["properties"]
    assert (
        props["file_duration"]["minimum"],
        props["file_duration"]["maximum"],
        props["file_duration"]["default"],
    ) == (
        15,
        300,
        60,
    )
    assert (props["timeout"]["minimum"], props["timeout"]["maximum"]) == (5, 1800)
    video = schemas["VideoItem"]["properties"]
    assert (video["w"]["default"], video["h"]["default"], video["crop_mode"]["default"]) == (320, 240, 1)
    assert {"type": "integer"} in video["user_id"]["anyOf"]
    params = {p["name"]: p for p in paths["/v1/record/task/list"]["get"]["parameters"]}
    assert params["page_size"]["schema"]["maximum"] == 500 and params["app_id"]["required"] is True
    # business errors are HTTP 200 too: every 200 reply may be the error shape
    ok = paths["/v1/record/init"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert {"$ref": "#/components/schemas/ErrorReply"} in ok["anyOf"]
    assert all("422" not in op["responses"] for p in paths.values() for op in p.values())
    assert "AccessToken" in spec["components"]["securitySchemes"]


def test_suite_runs_on_the_database_it_was_given(live_server: LiveServer) -> None:
    wanted = os.environ.get("CLOUDREC_TEST_DATABASE_URL", "")
    bind = live_server.ctx.sessions.kw["bind"]
    assert bind.dialect.name == ("postgresql" if wanted.startswith("postgres") else "sqlite")


def test_client_going_away_mid_body_is_no_internal_failure(
    tenant: Tenant, live_server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    port = int(live_server.base_url.rsplit(":", 1)[1])
    head = (
        f"POST /v1/record/init HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {tenant.access_token}\r\n"
        "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    )
    with caplog.at_level(logging.ERROR), socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(head.encode() + b'{"app_id": "')
        time.sleep(0.2)
    time.sleep(0.3)
    assert tenant.get("/v1/record/task/list")["code"] == 0  # the server carries on
    assert "internal failure" not in caplog.text


def test_the_api_never_imports_the_media_engine() -> None:
    code = (
        "import sys, cloudrec.api.app, cloudrec.tasks.service, cloudrec.tasks.listing, "
        "cloudrec.tasks.deletion, cloudrec.groups.registry; "
        "bad = sorted(m for m in sys.modules if m == 'av' or m.startswith(('av.', 'cloudrec.media')) "
        "or m == 'cloudrec.layout'); print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
