"""Webhook callbacks (cloudrec extension): the endpoint, the events of a task, signatures, retries, restarts.

Events go to a real HTTP receiver on loopback that records what it got and answers what it is told."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from api.harness import LIVE_SERVER_SETTINGS, DatabaseFactory, LiveServer, ServerFactory, Tenant, start_server
from cloudrec.db.models import App, CallbackEvent
from cloudrec.recorder.spec import Failed, Finished, SegmentClosed, SegmentInfo, Started, Stats
from cloudrec.secretbox import SecretBox, new_key

FAST_RETRIES: dict[str, Any] = {
    "callback_retry_first_s": 0.1,
    "callback_retry_max_s": 0.3,
    "callback_poll_s": 0.2,
    "callback_timeout_s": 2.0,
}


# ---- the receiver -------------------------------------------------------------------------------


class Receiver:
    """An HTTP server on a fixed loopback port: records every POST, answers the queued status codes
    (then 200); can be stopped (connection refused) and started again on the same port."""

    def __init__(self) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port: int = sock.getsockname()[1]
        sock.close()
        self.requests: list[tuple[dict[str, str], bytes, int]] = []  # headers, body, answered status
        self.statuses: list[int] = []
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/cloudrec?k=v"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def accepted(self) -> list[dict[str, Any]]:
        """The events answered with 2xx, in arrival order."""
        with self.lock:
            return [json.loads(body) for _, body, status in self.requests if 200 <= status < 300]

    def all(self) -> list[tuple[dict[str, str], bytes, int]]:
        with self.lock:
            return list(self.requests)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.start()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def cb_server(server_factory: ServerFactory) -> LiveServer:
    """A server whose failed deliveries are retried within fractions of a second."""
    return server_factory(**LIVE_SERVER_SETTINGS, **FAST_RETRIES)


@pytest.fixture
def cb_tenant(cb_server: LiveServer) -> Iterator[Tenant]:
    t = cb_server.tenant()
    yield t
    cb_server.finish_recordings()


# ---- helpers ------------------------------------------------------------------------------------


def wait_for(what: Callable[[], bool], timeout: float = 15.0, msg: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, f"timed out waiting: {msg}"
        time.sleep(0.05)


def set_callback(t: Tenant, url: str, **extra: Any) -> dict[str, Any]:
    reply = t.call("/v1/app/callback", url=url, **extra)
    assert reply["code"] == 0, reply
    return reply


def expected_signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def outbox_rows(server: LiveServer, app_id: str) -> list[CallbackEvent]:
    with server.ctx.sessions() as s:
        return list(s.scalars(select(CallbackEvent).where(CallbackEvent.app_id == app_id)).all())


def new_task(t: Tenant) -> str:
    """A recording task no recorder runs (its progress is driven by the test), not started yet."""
    return t.seed_task(2, start_time=None, group_id="room-cb")


def of_task(events: list[dict[str, Any]], record_id: str) -> list[dict[str, Any]]:
    return [e for e in events if e["record_id"] == record_id]


# ---- the endpoint --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["ftp://example.com/hook", "example.com/hook", "http://", "javascript:alert(1)", "http://h:99999/"]
)
def test_callback_url_must_be_http(tenant: Tenant, url: str) -> None:
    reply = tenant.call("/v1/app/callback", url=url)
    assert reply["code"] == 6050030003 and "url" in reply["msg"], reply
    with tenant.server.ctx.sessions() as s:
        assert s.scalar(select(App.callback_url).where(App.app_id == tenant.app_id)) == ""


def test_callback_url_is_required(tenant: Tenant) -> None:
    reply = tenant.call("/v1/app/callback")
    assert reply["code"] == 6050030003 and "url" in reply["msg"], reply


def test_secret_is_returned_once_and_empty_url_clears(tenant: Tenant) -> None:
    first = set_callback(tenant, "https://example.com/a")
    assert first["url"] == "https://example.com/a" and first["secret"].startswith("whsec_"), first
    again = set_callback(tenant, "http://example.com/b")
    assert again["url"] == "http://example.com/b" and again.get("secret") is None, again
    rotated = set_callback(tenant, "http://example.com/b", rotate_secret=True)
    assert rotated["secret"] and rotated["secret"] != first["secret"]
    cleared = set_callback(tenant, "")
    assert cleared["url"] == "" and cleared.get("secret") is None
    with tenant.server.ctx.sessions() as s:
        app = s.get(App, tenant.app_id)
        assert app is not None and app.callback_url == ""
        stored = app.callback_secret
    assert stored != rotated["secret"]  # sealed at rest
    assert tenant.server.settings.secret_box.open("callback", tenant.app_id, stored) == rotated["secret"]


def test_callback_needs_access_token_and_own_app(live_server: LiveServer, tenant: Tenant) -> None:
    with live_server.http() as c:
        r = c.post("/v1/app/callback", json={"app_id": tenant.app_id, "url": "http://example.com/"})
    assert r.json()["code"] == 6050030006
    other = live_server.tenant()
    reply = other.call("/v1/app/callback", app_id=tenant.app_id, url="http://evil.example/")
    assert reply["code"] == 6050030007, reply
    with live_server.ctx.sessions() as s:
        assert s.scalar(select(App.callback_url).where(App.app_id == tenant.app_id)) == ""


# ---- events ----------------------------------------------------------------------------------------


def test_task_events_in_order_signed(cb_server: LiveServer, cb_tenant: Tenant, receiver: Receiver) -> None:
    secret = set_callback(cb_tenant, receiver.url)["secret"]
    sink = cb_server.host.sink
    record_id = new_task(cb_tenant)
    sink.handle(record_id, Started(cb_server.clock.time()))
    contents = cb_tenant.add_segments(record_id, 2)
    sink.handle(record_id, Finished(Stats(media_duration=21.6, flow_bytes=10 * 1024 + 5)))
    sink.drain()
    wait_for(lambda: len(receiver.accepted()) >= 5, msg="5 events")
    events = receiver.accepted()
    assert [e["type"] for e in events] == [
        "recording.started",
        "segment.stored",
        "segment.stored",
        "recording.finished",
        "task.done",
    ], events
    assert len({e["id"] for e in events}) == 5
    for e in events:
        assert (e["app_id"], e["record_id"], e["group_id"]) == (cb_tenant.app_id, record_id, "room-cb")
        assert isinstance(e["timestamp"], int) and abs(e["timestamp"] - cb_server.clock.time()) < 5
    seg1, seg2 = events[1]["data"], events[2]["data"]
    assert (seg1["index"], seg2["index"]) == (1, 2)
    assert seg1["size"] == len(contents[0]) and seg1["md5"] == hashlib.md5(contents[0]).hexdigest()
    assert seg1["file_name"].endswith("_0001.mp4") and seg1["duration"] == pytest.approx(10.25)
    fin = events[3]["data"]
    assert (fin["media_duration"], fin["flow"], fin["status"]) == (22, 10, 6), fin
    assert "record_duration" in fin
    done = events[4]["data"]
    assert done["status"] == 6
    listed = cb_tenant.get("/v1/record/file/download/url", record_id=record_id)["data_list"]
    assert [{k: f[k] for k in ("md5", "file_name", "extent")} for f in done["file_list"]] == [
        {k: f[k] for k in ("md5", "file_name", "extent")} for f in listed
    ]
    with httpx.Client() as c:  # the links of the event download the files
        assert c.get(done["file_list"][1]["url"]).content == contents[1]
    for headers, body, _ in receiver.all():
        event = json.loads(body)
        assert headers["x-cloudrec-event-id"] == event["id"]
        assert headers["content-type"].startswith("application/json")
        ts = headers["x-cloudrec-timestamp"]
        assert abs(int(ts) - time.time()) < 60
        assert headers["x-cloudrec-signature"] == expected_signature(secret, ts, body)
        assert secret not in body.decode()
    wait_for(lambda: not outbox_rows(cb_server, cb_tenant.app_id), msg="outbox emptied")


def test_done_after_uploads_when_finished_first(
    cb_server: LiveServer, cb_tenant: Tenant, receiver: Receiver
) -> None:
    """Finished applied before the store confirms the last segment: status 5, then task.done on upload."""
    set_callback(cb_tenant, receiver.url)
    sink = cb_server.host.sink
    record_id = new_task(cb_tenant)
    path = cb_server.settings.work_dir / record_id / "late_0001.mp4"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * 3000)
    info = SegmentInfo(1, path.name, str(path), 3000, hashlib.md5(b"x" * 3000).hexdigest(), 5.0, 0.0)
    sink.handle(record_id, SegmentClosed(info))
    sink.handle(record_id, Finished(Stats(5.0, 0)))  # applied before the recorder's store confirms
    cb_tenant.store_segment(record_id, info)
    wait_for(lambda: len(receiver.accepted()) >= 3, msg="3 events")
    events = receiver.accepted()
    types = [e["type"] for e in events]
    assert types[-1] == "task.done" and types.count("task.done") == 1, types
    assert sorted(types) == ["recording.finished", "segment.stored", "task.done"], types
    fin = events[types.index("recording.finished")]["data"]
    if fin["status"] == 5:  # the usual case: the upload confirmed after the finish
        assert types == ["recording.finished", "segment.stored", "task.done"]
    assert [f["file_name"] for f in events[-1]["data"]["file_list"]] == ["late_0001.mp4"]


def test_failed_task_event(cb_server: LiveServer, cb_tenant: Tenant, receiver: Receiver) -> None:
    set_callback(cb_tenant, receiver.url)
    record_id = new_task(cb_tenant)
    cb_server.host.sink.handle(record_id, Failed("the source went away"))
    wait_for(lambda: len(receiver.accepted()) >= 1)
    (event,) = receiver.accepted()
    assert event["type"] == "task.failed" and event["record_id"] == record_id
    assert event["data"] == {"status": -1, "reason": "the source went away"}


def test_no_events_without_callback_url(cb_server: LiveServer, cb_tenant: Tenant, receiver: Receiver) -> None:
    set_callback(cb_tenant, receiver.url)
    set_callback(cb_tenant, "")  # turned off again
    record_id = new_task(cb_tenant)
    sink = cb_server.host.sink
    sink.handle(record_id, Started(cb_server.clock.time()))
    sink.handle(record_id, Failed("x"))
    sink.drain()
    assert outbox_rows(cb_server, cb_tenant.app_id) == []
    time.sleep(0.5)
    assert receiver.all() == []


def test_a_secret_sealed_with_another_key_sends_nothing(
    cb_server: LiveServer, cb_tenant: Tenant, receiver: Receiver
) -> None:
    """A callback secret this server's key cannot open (a database moved without its key): the event
    waits in the outbox with the reason, nothing is sent unsigned or badly signed."""
    set_callback(cb_tenant, receiver.url)
    foreign = SecretBox(new_key()).seal("callback", cb_tenant.app_id, "whsec_elsewhere")
    with cb_server.ctx.sessions.begin() as s:
        s.execute(update(App).where(App.app_id == cb_tenant.app_id).values(callback_secret=foreign))
    cb_server.host.sink.handle(new_task(cb_tenant), Failed("x"))
    wait_for(
        lambda: any("does not open" in r.last_error for r in outbox_rows(cb_server, cb_tenant.app_id)),
        msg="the reason kept",
    )
    assert receiver.all() == []
    set_callback(cb_tenant, "")  # the event is dropped: no retries left behind for the next tests
    wait_for(lambda: all(r.state == 2 for r in outbox_rows(cb_server, cb_tenant.app_id)), msg="dropped")


# ---- retries --------------------------------------------------------------------------------------


def test_retried_after_500_in_order(cb_server: LiveServer, cb_tenant: Tenant, receiver: Receiver) -> None:
    set_callback(cb_tenant, receiver.url)
    receiver.statuses = [500, 503]
    record_id = new_task(cb_tenant)
    sink = cb_server.host.sink
    sink.handle(record_id, Started(cb_server.clock.time()))
    sink.handle(record_id, Failed("boom"))
    wait_for(lambda: len(receiver.accepted()) >= 2, msg="both events accepted")
    got = receiver.all()
    statuses = [status for _, _, status in got]
    ids = [h["x-cloudrec-event-id"] for h, _, _ in got]
    assert statuses == [500, 503, 200, 200], got
    assert ids[0] == ids[1] == ids[2] != ids[3]  # the same event again, then the next one
    assert [e["type"] for e in receiver.accepted()] == ["recording.started", "task.failed"]
    wait_for(lambda: not outbox_rows(cb_server, cb_tenant.app_id), msg="outbox emptied")


def test_retried_while_receiver_down(cb_server: LiveServer, cb_tenant: Tenant, receiver: Receiver) -> None:
    set_callback(cb_tenant, receiver.url)
    receiver.stop()
    record_id = new_task(cb_tenant)
    cb_server.host.sink.handle(record_id, Failed("down"))

    def tried_twice() -> bool:
        rows = outbox_rows(cb_server, cb_tenant.app_id)
        return len(rows) == 1 and rows[0].attempts >= 2

    wait_for(tried_twice, msg="two failed attempts")
    (row,) = outbox_rows(cb_server, cb_tenant.app_id)
    assert row.state == 0 and "Connect" in row.last_error, row.last_error
    receiver.start()
    wait_for(lambda: len(receiver.accepted()) == 1, msg="delivered after the receiver came back")
    assert receiver.accepted()[0]["type"] == "task.failed"
    wait_for(lambda: not outbox_rows(cb_server, cb_tenant.app_id), msg="outbox emptied")


def test_given_up_after_retry_window(server_factory: ServerFactory, receiver: Receiver) -> None:
    server = server_factory(**LIVE_SERVER_SETTINGS, **FAST_RETRIES, callback_retry_s=0.0)
    t = server.tenant()
    set_callback(t, receiver.url)
    receiver.statuses = [500]
    first, second = new_task(t), new_task(t)
    server.host.sink.handle(first, Failed("one"))
    wait_for(lambda: len(receiver.all()) >= 1)
    server.host.sink.handle(second, Failed("two"))
    wait_for(lambda: len(receiver.accepted()) >= 1)
    time.sleep(0.5)
    assert [(e["record_id"], e["type"]) for e in receiver.accepted()] == [(second, "task.failed")]
    assert len(receiver.all()) == 2  # the failed one was not sent again
    rows = outbox_rows(server, t.app_id)
    assert [(r.record_id, r.state, r.attempts) for r in rows] == [(first, 2, 1)]


# ---- restarts ------------------------------------------------------------------------------------


def test_pending_events_survive_restart(
    databases: DatabaseFactory, tmp_path: Path, receiver: Receiver
) -> None:
    data_dir, db_url = tmp_path / "data", databases.new_url()
    settings = {**LIVE_SERVER_SETTINGS, **FAST_RETRIES, "callback_retry_first_s": 60.0}
    first = start_server(data_dir, db_url, **settings)
    try:
        t = first.tenant()
        set_callback(t, receiver.url)
        receiver.stop()
        record_id = new_task(t)
        first.host.sink.handle(record_id, Started(first.clock.time()))
        first.host.sink.handle(record_id, Failed("cut"))
        wait_for(lambda: any(r.attempts for r in outbox_rows(first, t.app_id)), msg="a failed attempt")
        app_id = t.app_id
        t.client.close()
        first.tenants.clear()
    finally:
        first.stop()
    receiver.start()
    time.sleep(0.3)
    assert receiver.all() == []  # nothing was sent while no server ran
    second = start_server(data_dir, db_url, **{**settings, "callback_retry_first_s": 0.1})
    try:
        # the first attempt's retry was due in a minute: move it forward as that minute passing would
        # (one UPDATE: the new server's delivery may be sending a row meanwhile)
        with second.ctx.sessions.begin() as s:
            s.execute(update(CallbackEvent).where(CallbackEvent.app_id == app_id).values(next_attempt_at=0.0))
        second.ctx.callbacks.wake()  # type: ignore[union-attr]
        wait_for(lambda: len(receiver.accepted()) >= 2, msg="pending events delivered by the new server")
        assert [(e["record_id"], e["type"]) for e in receiver.accepted()] == [
            (record_id, "recording.started"),
            (record_id, "task.failed"),
        ]
        wait_for(lambda: not outbox_rows(second, app_id), msg="outbox emptied")
    finally:
        second.stop()


def test_segment_stored_of_a_per_stream_file_names_its_stream(
    cb_server: LiveServer, cb_tenant: Tenant, receiver: Receiver
) -> None:
    set_callback(cb_tenant, receiver.url)
    record_id = new_task(cb_tenant)
    work = cb_server.settings.work_dir / record_id
    work.mkdir(parents=True, exist_ok=True)
    path = work / "room_bob_0_1_0001.mp4"
    path.write_bytes(b"per-stream file")
    info = SegmentInfo(
        1,
        path.name,
        str(path),
        15,
        hashlib.md5(b"per-stream file").hexdigest(),
        2.5,
        cb_server.clock.time(),
        user_id="bob",
        media_type=0,
        media_id="1",
        start_offset=-0.25,
    )
    cb_tenant.store_segment(record_id, info)
    wait_for(lambda: any(e["type"] == "segment.stored" for e in of_task(receiver.accepted(), record_id)))
    (stored,) = [e["data"] for e in of_task(receiver.accepted(), record_id) if e["type"] == "segment.stored"]
    assert (stored["user_id"], stored["media_type"], stored["media_id"]) == ("bob", 0, "1"), stored
    assert stored["start_offset"] == -0.25 and stored["file_name"] == path.name
