"""`/healthz`, `/readyz` (database, storage, recorder capacity) and `/metrics` of a real server."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from support.metrics import scrape

from api.harness import LiveServer, ServerFactory, Tenant, contract_json
from cloudrec.recorder.spec import SegmentInfo


def readyz(server: LiveServer) -> tuple[int, dict[str, Any]]:
    with server.http() as c:
        r = c.get("/readyz")
    return r.status_code, contract_json(r)


def wait_until(what: str, predicate: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


# ---- health ------------------------------------------------------------------------------------


def test_healthz_and_readyz_answer_ok_on_a_working_server(live_server: LiveServer) -> None:
    with live_server.http() as c:
        alive = c.get("/healthz")
    assert alive.status_code == 200 and contract_json(alive) == {"code": 0, "msg": "OK"}
    status, body = readyz(live_server)
    assert status == 200, body
    assert body["code"] == 0
    checks = body["checks"]
    assert set(checks) == {"database", "storage", "recorder"}
    assert all(check["ok"] for check in checks.values()), checks
    assert checks["recorder"]["capacity"] == live_server.settings.max_recordings
    assert checks["recorder"]["free_slots"] == live_server.host.free_slots()
    assert checks["storage"]["free_disk_mb"] > 0


def test_readyz_fails_when_free_disk_is_below_the_floor(server_factory: ServerFactory) -> None:
    server = server_factory(min_free_disk_mb=10**12)  # more than any disk has
    status, body = readyz(server)
    assert status == 503, body
    assert body["code"] == 6050030000
    storage = body["checks"]["storage"]
    assert storage["ok"] is False and "free disk" in storage["error"], storage
    assert body["checks"]["database"]["ok"] and body["checks"]["recorder"]["ok"]
    assert body["msg"].startswith("not ready: storage: free disk"), body["msg"]


def test_readyz_fails_while_the_storage_directory_takes_no_files(server_factory: ServerFactory) -> None:
    server = server_factory(min_free_disk_mb=1)
    files = server.settings.files_dir
    moved = files.with_name("files-away")
    files.rename(moved)
    files.write_text("not a directory")  # what root cannot write into either
    try:
        status, body = readyz(server)
        assert status == 503, body
        storage = body["checks"]["storage"]
        assert storage["ok"] is False and storage["error"].startswith("NotADirectoryError"), storage
        assert "storage" in body["msg"]
    finally:
        files.unlink()
        moved.rename(files)
    status, body = readyz(server)
    assert status == 200, body


def test_readyz_answers_load_limit_while_every_recorder_slot_is_taken(server_factory: ServerFactory) -> None:
    server = server_factory(max_recordings=1, min_free_disk_mb=1)
    tenant = server.tenant()
    record_id = tenant.init()
    status, body = readyz(server)
    assert status == 503, body
    assert body["code"] == 6050030009
    recorder = body["checks"]["recorder"]
    assert recorder == {**recorder, "ok": False, "free_slots": 0, "running": 1, "capacity": 1}, recorder
    assert body["checks"]["database"]["ok"] and body["checks"]["storage"]["ok"]
    assert tenant.call("/v1/record/finish", record_id=record_id)["code"] == 0
    wait_until("the recorder slot to be free", lambda: readyz(server)[0] == 200)


def test_readyz_fails_and_metrics_still_answer_when_the_database_is_gone(
    own_server: ServerFactory,
) -> None:
    server = own_server(min_free_disk_mb=1)  # stopped at the end: its threads find no tables
    engine = server.ctx.sessions.kw["bind"]
    url = server.settings.db_url
    if url.startswith("sqlite"):
        db_file = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_file}{suffix}").unlink(missing_ok=True)
        engine.dispose()  # new connections find no database (SQLite makes an empty one)
    else:
        schema = parse_qs(urlsplit(url).query)["options"][0].removeprefix("-csearch_path=")
        for attempt in range(5):  # the server's threads read meanwhile: a deadlock with one is retried
            try:
                with engine.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                break
            except OperationalError:
                if attempt == 4:
                    raise
                time.sleep(0.2)
    status, body = readyz(server)
    assert status == 503, body
    database = body["checks"]["database"]
    assert database["ok"] is False and "tasks" in database["error"], database
    assert body["msg"].startswith("not ready: database:"), body["msg"]
    with server.http() as c:
        assert c.get("/healthz").status_code == 200  # alive, only not ready
    metrics = scrape(server.base_url)
    assert metrics.has("cloudrec_recordings_active")  # what does not need the database is there
    assert not metrics.labels_of("cloudrec_tasks")


# ---- metrics -----------------------------------------------------------------------------------


def test_http_latency_is_labelled_by_route_template_never_by_raw_path(tenant: Tenant) -> None:
    record_id = tenant.finished()
    tenant.add_segments(record_id, 1)
    url = tenant.get("/v1/record/file/download/url", record_id=record_id)["data_list"][0]["url"]
    assert httpx.get(url, timeout=30).status_code == 200
    secret_path = "/v1/nothing/" + secrets.token_hex(8)
    assert tenant.request("GET", secret_path).status_code == 404
    assert tenant.request("BREW", "/v1/record/task/list").status_code == 405
    metrics = scrape(tenant.server.base_url)
    name = "cloudrec_http_request_duration_seconds_count"
    labels = metrics.labels_of(name)
    routes = {(ls["method"], ls["route"], ls["status"]) for ls in labels}
    assert ("GET", "/v1/record/task/list", "200") in routes, routes
    assert ("POST", "/v1/record/finish", "200") in routes, routes
    assert ("GET", "/download/{key:path}", "200") in routes, routes
    assert ("GET", "<unmatched>", "404") in routes, routes
    assert ("other", "/v1/record/task/list", "405") in routes, routes
    every_value = " ".join(v for ls in labels for v in ls.values())
    assert record_id not in every_value and secret_path not in every_value and "BREW" not in every_value
    assert metrics.value(name, method="GET", route="/v1/record/task/list", status="200") >= 1


def test_task_gauges_follow_the_database(server_factory: ServerFactory) -> None:
    server = server_factory(min_free_disk_mb=1)
    tenant = server.tenant()
    before = scrape(server.base_url)
    assert before.value("cloudrec_tasks", status="1") == 0
    assert before.value("cloudrec_recordings_active") == 0
    assert before.value("cloudrec_recorder_capacity") == server.settings.max_recordings
    waiting = tenant.init()
    recording = tenant.start_manual()
    done = tenant.finished()
    after = scrape(server.base_url)
    assert after.value("cloudrec_tasks", status="1") == 1
    assert after.value("cloudrec_tasks", status="2") == 1
    assert after.value("cloudrec_tasks", status="6") == 1
    assert after.value("cloudrec_tasks", status="-1") == 0
    assert after.value("cloudrec_recordings_active") == 2
    assert after.value("cloudrec_recorder_free_slots") == server.settings.max_recordings - 2
    for record_id in (waiting, recording):
        assert tenant.call("/v1/record/finish", record_id=record_id)["code"] == 0
    wait_until(
        "the recorders to end", lambda: scrape(server.base_url).value("cloudrec_recordings_active") == 0
    )
    assert scrape(server.base_url).value("cloudrec_tasks", status="6") == 3, done


def test_segment_store_latency_and_retries(server_factory: ServerFactory) -> None:
    server = server_factory(min_free_disk_mb=1)
    tenant = server.tenant()
    record_id = tenant.finished()
    before = scrape(server.base_url)
    tenant.add_segments(record_id, 2)
    after = scrape(server.base_url)
    count = "cloudrec_segment_store_duration_seconds_count"
    assert after.value(count, result="ok") - before.value(count, result="ok") == 2
    assert after.value("cloudrec_segment_uploads_pending") == 0
    # the store refuses (its directory is a file) until it is repaired: the recorder tries again
    files = server.settings.files_dir
    moved = files.with_name("files-away")
    files.rename(moved)
    files.write_text("not a directory")
    try:
        work = server.settings.work_dir / record_id
        path = work / "extra_0003.mp4"
        path.write_bytes(b"x" * 100)
        info = SegmentInfo(3, path.name, str(path), 100, hashlib.md5(b"x" * 100).hexdigest(), 1.0, 0.0)
        store = tenant.store_segment(record_id, info, wait=False)
        server.host.sink.drain()
        assert scrape(server.base_url).value("cloudrec_segment_uploads_pending") == 1
        time.sleep(1.5)  # a few failed tries (0.5 s apart at most)
        assert store.pending() == 1
    finally:
        files.unlink()
        moved.rename(files)
    assert store.wait(30)
    store.close()
    server.host.sink.drain()
    final = scrape(server.base_url)  # the recorder reported its tries with the object stored
    assert final.value(count, result="error") - before.value(count, result="error") >= 2
    assert (
        final.value("cloudrec_segment_store_retries_total")
        - before.value("cloudrec_segment_store_retries_total")
        >= 2
    )
    assert final.value(count, result="ok") - before.value(count, result="ok") >= 3
    assert final.value("cloudrec_segment_uploads_pending") == 0


class _Receiver(BaseHTTPRequestHandler):
    status = 500  # what every callback gets; the test flips it

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(type(self).status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[_Receiver]]]:
    handler = type("Receiver", (_Receiver,), {})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/hook", handler
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_webhook_backlog_grows_while_the_receiver_fails_and_drains(
    server_factory: ServerFactory, receiver: tuple[str, type[_Receiver]]
) -> None:
    server = server_factory(
        min_free_disk_mb=1,
        callback_retry_first_s=0.2,
        callback_retry_max_s=0.4,
        egress_webhook_allow_networks=["127.0.0.0/8"],  # the receiver listens on loopback
    )
    tenant = server.tenant()
    url, handler = receiver
    assert tenant.call("/v1/app/callback", url=url)["code"] == 0
    before = scrape(server.base_url)
    tenant.finished()  # recording.finished and task.done go to the outbox
    wait_until(
        "a failed delivery",
        lambda: (
            scrape(server.base_url).value("cloudrec_webhook_deliveries_total", result="failed")
            > before.value("cloudrec_webhook_deliveries_total", result="failed")
        ),
    )
    assert scrape(server.base_url).value("cloudrec_webhook_events", state="pending") == 2
    handler.status = 204
    wait_until(
        "the backlog to drain",
        lambda: scrape(server.base_url).value("cloudrec_webhook_events", state="pending") == 0,
    )
    after = scrape(server.base_url)
    delivered = after.value("cloudrec_webhook_deliveries_total", result="delivered")
    assert delivered - before.value("cloudrec_webhook_deliveries_total", result="delivered") == 2
    assert after.value("cloudrec_webhook_events", state="given_up") == 0


def test_metrics_need_no_credentials_and_carry_no_secret(tenant: Tenant) -> None:
    body = httpx.get(f"{tenant.server.base_url}/metrics", timeout=30).text
    assert tenant.access_token not in body and tenant.dev_secret not in body and tenant.app_id not in body
    assert "# TYPE cloudrec_frames_composed_total counter" in body


def test_the_grafana_dashboard_queries_only_metrics_the_server_exports(live_server: LiveServer) -> None:
    dashboard = json.loads(
        (Path(__file__).resolve().parents[2] / "docs" / "grafana-cloudrec.json").read_text()
    )
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    queried = {name for expr in exprs for name in re.findall(r"\bcloudrec_[a-z_]+", expr)}
    text_ = httpx.get(f"{live_server.base_url}/metrics", timeout=30).text
    exported: set[str] = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text_, re.M):
        exported.add(name)
        if kind == "histogram":
            exported |= {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
    assert len(queried) >= 15, queried
    assert queried <= exported, queried - exported
