"""Logs that cannot be forged or leak (issue 16 #7, #8): the server's and the recorders' log output."""

from __future__ import annotations

import logging
import re
import time

import pytest

from api.harness import LIVE_SERVER_SETTINGS, LiveServer, ServerFactory, Tenant
from api.test_callbacks import FAST_RETRIES, Receiver, wait_for
from api.test_egress import Listener
from cloudrec.logsafe import clean
from cloudrec.recorder.spec import Started

FORGED = "2026-12-03 08:00:00,000 CRITICAL cloudrec.auth: FORGED"


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Every line the server's log records make, formatted as `cloudrec serve` formats them."""
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    return [line for r in caplog.records for line in formatter.format(r).split("\n")]


def test_a_path_cannot_forge_a_log_line(live_server: LiveServer, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO), live_server.http() as c:
        for raw in (f"/nope%0a{FORGED}", f"/nope%0d%0a{FORGED}", f"/nope%00%1b[2J%0a{FORGED}"):
            r = c.get(live_server.base_url + raw.replace(" ", "%20"))
            assert r.status_code == 404
    lines = _lines(caplog)
    assert not [line for line in lines if line.startswith("2026-12-03 08:00:00,000")], lines
    logged = "\n".join(lines)
    assert "/nope\\x0a2026-12-03" in logged and "\\x00\\x1b[2J" in logged, logged
    assert "\x00" not in logged and "\x1b" not in logged


def test_ids_with_newlines_are_escaped(tenant: Tenant, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        reply = tenant.call(
            "/v1/group/stream/publish",
            group_id=f"g\n{FORGED}",
            user_id=f"u\r\n{FORGED}",
            media_type=2,
            media_id="0",
            url="rtmp://127.0.0.1/live/a",
        )
        assert reply["code"] == 0, reply
    lines = _lines(caplog)
    published = [line for line in lines if "published" in line]
    assert published and "g\\x0a2026-12-03" in published[0], lines
    assert not [line for line in lines if line.startswith("2026-12-03 08:00:00,000")], lines


def test_stream_credentials_never_reach_the_logs(
    server_factory: ServerFactory, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    """The recorder process logs its sources' URLs: without the user info and the query."""
    server = server_factory(**LIVE_SERVER_SETTINGS)
    tenant = server.tenant()
    listener = Listener()  # accepts and hangs up: the source fails to open and logs it, again and again
    try:
        url = f"http://user:pass@127.0.0.1:{listener.port}/x.flv?key=s3cr3tkey"
        with caplog.at_level(logging.DEBUG):
            reply = tenant.call(
                "/v1/group/stream/publish", group_id="g", user_id="u", media_type=2, media_id="0", url=url
            )
            assert reply["code"] == 0, reply
            record_id = tenant.init(group_id="g", auto={})
            deadline = time.monotonic() + 20
            while listener.accepted < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert listener.accepted >= 2, "the recorder never tried the stream"
            time.sleep(0.5)  # its log line of the failed open
            tenant.call("/v1/record/finish", record_id=record_id)
            tenant.wait_status(record_id, 6, -1)
    finally:
        listener.close()
    out, err = capfd.readouterr()
    recorder = out + err
    server_side = "\n".join(_lines(caplog))
    assert f"127.0.0.1:{listener.port}/x.flv" in recorder, recorder[-2000:]  # it did log the source
    assert "http://***@127.0.0.1" in recorder
    for secret in ("pass", "s3cr3tkey", "user:"):
        assert secret not in recorder, recorder[-2000:]
        assert secret not in server_side, server_side[-2000:]


def test_http_client_logs_carry_no_query(
    server_factory: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """httpx logs each webhook request with its URL: the query string (a receiver's token) is cut."""
    server = server_factory(**LIVE_SERVER_SETTINGS, **FAST_RETRIES)
    tenant = server.tenant()
    receiver = Receiver()
    receiver.start()
    try:
        url = f"http://127.0.0.1:{receiver.port}/hooks?token=receiver-secret"
        assert tenant.call("/v1/app/callback", url=url)["code"] == 0
        with caplog.at_level(logging.DEBUG):
            record_id = tenant.seed_task(2, start_time=None, group_id="room")
            server.host.sink.handle(record_id, Started(server.clock.time()))
            server.host.sink.drain()
            wait_for(lambda: len(receiver.accepted()) >= 1, msg="an event")
            wait_for(lambda: any(r.name.startswith("httpx") for r in caplog.records), msg="httpx's line")
    finally:
        receiver.stop()
        server.finish_recordings()
    logged = "\n".join(_lines(caplog))
    assert f"127.0.0.1:{receiver.port}/hooks?***" in logged, logged
    assert "receiver-secret" not in logged


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("a\nb", "a\\x0ab"),
        ("a\u2028b", "a\\u2028b"),
        ("rtmp://u:p@h:1935/live/k?t=1#f", "rtmp://***@h:1935/live/k?***"),
        ("see https://h/p?x=1 then", "see https://h/p?*** then"),
        ("url='http://a:b@h/p?x=1'", "url='http://***@h/p?***'"),
        ("http://u:p@ss@h/x", "http://***@h/x"),
        ("no url", "no url"),
    ],
)
def test_clean(raw: str, shown: str) -> None:
    assert clean(raw) == shown
    assert not re.search(r"[\x00-\x1f]", clean(raw))
