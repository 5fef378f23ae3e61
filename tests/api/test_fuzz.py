"""Schema-driven fuzzing (schemathesis on /openapi.json): never a 5xx, always the contract's JSON."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from api.harness import LiveServer, ServerFactory, contract_json

# One request per example: about 40 s on 2 cores.
EXAMPLES = 800


@pytest.fixture(scope="module")
def fuzz_server(server_factory: ServerFactory) -> LiveServer:
    # Its own database and a small recorder capacity: fuzzed inits can't starve the other tests. No
    # lockout: the fuzzed refusals of /access/token come from 127.0.0.1 like every test's requests.
    return server_factory(max_recordings=2, min_free_disk_mb=1, auth_max_failures=0)


def contract_json_body(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every answer but a served file is `{"code": int, "msg": str, ...}`; never an internal failure."""
    if case.method.upper() == "HEAD" or (
        response.status_code in (200, 206) and case.path == "/download/{key}"
    ):
        return None
    if case.path == "/v1/record/snapshot" and _content_type(response) == "image/jpeg":
        return None  # the picture of a recording task
    data = response.json()
    assert isinstance(data, dict), f"not a JSON object: {response.text[:200]!r}"
    code = data.get("code")
    assert isinstance(code, int) and not isinstance(code, bool), f"no integer code: {data}"
    assert isinstance(data.get("msg"), str), f"no msg: {data}"
    assert code != 6050030000, f"internal failure: {data}"
    if code != 0:
        assert set(data) == {"code", "msg"}, f"an error reply with more than code and msg: {data}"
    return None


def _content_type(response: Any) -> str:
    """The response's Content-Type (schemathesis keeps every header as a list of values)."""
    value = response.headers.get("content-type") or ""
    return str(value[0] if isinstance(value, list) and value else value)


def _own(case: Any, app_id: str, record_id: str) -> None:
    """Point the case at the tenant's real app and task, so that it gets into the logic behind them."""
    for container in (case.body, case.query):
        if isinstance(container, dict):
            if isinstance(container.get("app_id"), str):
                container["app_id"] = app_id
            if isinstance(container.get("record_id"), str):
                container["record_id"] = record_id
            if isinstance(container.get("record_list"), list):
                container["record_list"] = [record_id, *container["record_list"][:2]]


def test_no_request_breaks_the_contract(fuzz_server: LiveServer) -> None:
    tenant = fuzz_server.tenant()
    # something to find: a done task with a file, a recording manual task, a recording automatic one
    done = tenant.finished()
    tenant.add_segments(done, 1)
    record_ids = [done, tenant.start_manual(), tenant.init(auto={})]
    schema = schemathesis.openapi.from_url(f"{fuzz_server.base_url}/openapi.json")
    cases = st.one_of(
        schema.as_strategy(GenerationMode.POSITIVE), schema.as_strategy(GenerationMode.NEGATIVE)
    )
    checks = [not_a_server_error, response_schema_conformance, content_type_conformance, contract_json_body]
    seen: set[tuple[str, str, int]] = set()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(
        case=cases,
        own_app=st.booleans(),
        record_id=st.sampled_from(record_ids),
        authenticated=st.sampled_from([True, True, True, False]),
    )
    def fuzz(case: Any, own_app: bool, record_id: str, authenticated: bool) -> None:
        if own_app:
            _own(case, tenant.app_id, record_id)
        headers = {"Authorization": tenant.access_token} if authenticated else {}
        response = case.call(base_url=fuzz_server.base_url, headers=headers, timeout=30)
        case.validate_response(response, checks=checks, headers=headers)
        is_json = _content_type(response).startswith("application/json")
        seen.add((case.method, case.path, response.json().get("code", -1) if is_json else -1))

    fuzz()
    # the run reached the logic behind authorisation, not only the refusals
    reached = {code for _, _, code in seen}
    assert 0 in reached and 6050030003 in reached, reached
    assert {path for _, path, _ in seen} >= {"/v1/record/init", "/v1/record/file", "/v1/group/stream/publish"}


# ---- the limits of issue 16, at and around their edges ---------------------------------------------

DIGITS = "0123456789" + "٠١٢٣٤٥٦٧٨٩" + "०१२३" + "０１２３"  # ASCII, Arabic-Indic, Devanagari, fullwidth
HOSTS = [
    "127.0.0.1", "127.1", "2130706433", "0x7f000001", "0177.0.0.1", "[::1]", "[::ffff:127.0.0.1]",
    "localhost", "LOCALHOST.", "0.0.0.0", "0", "[::]", "169.254.169.254", "[fe80::1%25eth0]",
    "[::ffff:a9fe:a9fe]", "2852039166", "10.0.0.1", "media.localhost", "xn--bcher-kva.localhost", "[1:2",
]  # fmt: skip
# spellings of the fuzz server's own listen address (127.0.0.1): with its port, refused
OWN = {"127.0.0.1", "127.1", "2130706433", "0x7f000001", "0177.0.0.1", "[::ffff:127.0.0.1]", "localhost",
       "LOCALHOST.", "media.localhost", "xn--bcher-kva.localhost"}  # fmt: skip
NEVER = {"0.0.0.0", "0", "[::]", "169.254.169.254", "[fe80::1%25eth0]", "[::ffff:a9fe:a9fe]", "2852039166",
         "[1:2"}  # fmt: skip


def test_limits_never_break_the_contract(fuzz_server: LiveServer) -> None:
    fuzz_server.finish_recordings()  # the schema fuzzing's tasks: this test needs the server's 2 slots
    deadline = time.monotonic() + 30
    while fuzz_server.host.free_slots() < 2:
        assert time.monotonic() < deadline, "the recorders of the schema fuzzing did not end"
        time.sleep(0.1)
    tenant = fuzz_server.tenant()
    record_id = tenant.start_manual()
    done = tenant.finished()
    tenant.add_segments(done, 1, size=1000)
    download = tenant.get("/v1/record/file/download/url", record_id=done)["data_list"][0]["url"]
    own_port = fuzz_server.settings.port

    def check(r: httpx.Response) -> dict[str, Any]:
        assert r.status_code < 500, (r.status_code, r.text[:300])
        return contract_json(r)

    @settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def fuzz(data: st.DataObject) -> None:
        kind = data.draw(st.sampled_from(["layout", "seq", "digits", "record_list", "range", "url"]))
        c = tenant.client
        body: dict[str, Any]
        if kind == "layout":
            nv, na = data.draw(st.integers(0, 40)), data.draw(st.integers(0, 40))
            video = [{"user_id": f"u{i}", "media_id": 0, "media_type": 2} for i in range(nv)]
            audio = [{"user_id": f"u{i}", "media_id": 1} for i in range(na)]
            body = {"app_id": tenant.app_id, "record_id": record_id, "video_list": video, "audio_list": audio}
            reply = check(c.post("/v1/record/set/layout", json=body))
            assert reply["code"] == (0 if nv <= 25 and na <= 25 else 6050030003), (nv, na, reply)
        elif kind == "seq":
            n = data.draw(st.integers(240, 270))
            body = {"app_id": tenant.app_id, "record_id": record_id, "seq": "s" * n}
            reply = check(c.post("/v1/record/set/layout", json=body))
            assert reply["code"] == (0 if n <= 256 else 6050030003), (n, reply)
        elif kind == "digits":
            text = data.draw(st.text(alphabet=DIGITS, min_size=1, max_size=5))
            tile = {"user_id": "u", "media_id": 0, "media_type": 2, "x": text}
            body = {"app_id": tenant.app_id, "record_id": record_id, "video_list": [tile]}
            reply = check(c.post("/v1/record/set/layout", json=body))
            ok = text.isascii() and int(text) <= 1920
            assert reply["code"] == (0 if ok else 6050030003), (text, reply)
            if not text.isascii():
                assert "video_list[0].x" in reply["msg"], reply
        elif kind == "record_list":
            value = data.draw(st.text(alphabet='[]{}",a ', max_size=300)) + "[" * data.draw(
                st.integers(0, 3000)
            )
            form = data.draw(st.booleans())
            if form:
                r = c.post("/v1/record/file", data={"app_id": tenant.app_id, "record_list": value})
            else:
                r = c.post("/v1/record/file", json={"app_id": tenant.app_id, "record_list": value})
            assert check(r)["code"] in (0, 6050030003)
        elif kind == "range":
            value = data.draw(st.text(alphabet="bytes=0123456789-, ", max_size=40)).strip() or "x"
            r = httpx.get(download, headers={"Range": value})
            assert r.status_code in (200, 206, 416), (value, r.status_code)
            if r.status_code == 416:
                assert r.headers["content-range"] == "bytes */1000"
                assert contract_json(r)["code"] == 6050030003
        else:
            host = data.draw(st.sampled_from(HOSTS))
            port = data.draw(st.sampled_from(["", f":{own_port}", ":1935", ":0", ":99999"]))
            url = f"http://{host}{port}/live/a.flv"
            body = {"app_id": tenant.app_id, "group_id": "g", "user_id": "u", "media_type": 2,
                    "media_id": "0", "url": url}  # fmt: skip
            reply = check(c.post("/v1/group/stream/publish", json=body))
            refused = host in NEVER or port == ":99999" or (host in OWN and port == f":{own_port}")
            assert reply["code"] == (6050030003 if refused else 0), (url, reply)
            # not one of them is a public address: every one is refused as a webhook URL
            hook = check(c.post("/v1/app/callback", json={"app_id": tenant.app_id, "url": url}))
            assert hook["code"] == 6050030003, (url, hook)

    fuzz()
