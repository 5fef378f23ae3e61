"""Logs that cannot be forged or leak (issue 16 #7, #8): the server's and the recorders' log output."""

from __future__ import annotations

import logging
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from api.harness import LIVE_SERVER_SETTINGS, LiveServer, ServerFactory, Tenant
from api.test_callbacks import FAST_RETRIES, Receiver, wait_for
from api.test_egress import Listener
from cloudrec.auth import generate_token
from cloudrec.config import Settings
from cloudrec.db.models import App, Developer
from cloudrec.db.session import make_engine, make_sessionmaker
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


class ServeProcess:
    """`python -m cloudrec serve` in a child process, its whole log output (stderr) collected."""

    def __init__(self, data_dir: Path) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port: int = sock.getsockname()[1]
        sock.close()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        env = {
            **os.environ,
            "CLOUDREC_DATA_DIR": str(data_dir),
            "CLOUDREC_HOST": "127.0.0.1",
            "CLOUDREC_PORT": str(self.port),
            "CLOUDREC_MIN_FREE_DISK_MB": "1",
            "CLOUDREC_LOG_LEVEL": "DEBUG",
        }
        env.pop("CLOUDREC_DATABASE_URL", None)
        env.pop("CLOUDREC_CONFIG", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cloudrec", "serve"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="backslashreplace",
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None, "\n".join(self.lines)
            assert time.monotonic() < deadline, "cloudrec serve did not start"
            try:
                if httpx.get(self.base_url + "/openapi.json", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def tenant_client(self) -> tuple[httpx.Client, str]:
        """A new developer and app (written to the server's database), and a client with a token."""
        dev_id, secret, app_id = (
            "dev" + secrets.token_hex(6),
            secrets.token_hex(24),
            "app" + secrets.token_hex(6),
        )
        sessions = make_sessionmaker(make_engine(f"sqlite:///{(self.data_dir / 'cloudrec.db').resolve()}"))
        with sessions.begin() as s:
            settings = Settings(data_dir=self.data_dir)
            settings.prepare()  # reads the server's keys in its data dir
            box = settings.secret_box
            sealed = box.seal("developer", dev_id, secret)
            s.add(Developer(dev_id=dev_id, secret=sealed, name="t", created_at=time.time()))
            s.flush()  # the app refers to the developer
            s.add(App(app_id=app_id, dev_id=dev_id, name="t", created_at=time.time()))
        auth = f"{dev_id}.{generate_token(dev_id, secret, 3600)}"
        reply = httpx.get(self.base_url + "/access/token", headers={"Authorization": auth}).json()
        assert reply["code"] == 0, reply
        token = reply["result"]["access_token"]
        return httpx.Client(base_url=self.base_url, headers={"Authorization": token}, timeout=30), app_id

    def stop(self) -> str:
        """Stop it as Ctrl-C does; everything it logged."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=10)
        return "\n".join(self.lines)


def test_served_logs_are_neither_forged_nor_leak_credentials(tmp_path: Path) -> None:
    """The real `cloudrec serve` (its logging, uvicorn's, the recorders'): a forged line by a path, a
    stream URL's password and query, an id with a newline."""
    server = ServeProcess(tmp_path / "data")
    listener = Listener()  # accepts and hangs up: the source fails to open and logs it, again and again
    try:
        client, app_id = server.tenant_client()
        with client:
            r = client.get(f"/nope%0a{FORGED}".replace(" ", "%20"))
            assert r.status_code == 404
            url = f"http://user:pass@127.0.0.1:{listener.port}/x.flv?key=s3cr3tkey"
            publish = {"app_id": app_id, "group_id": f"g\n{FORGED}", "user_id": "u", "media_type": 2,
                       "media_id": "0", "url": url}  # fmt: skip
            assert client.post("/v1/group/stream/publish", json=publish).json()["code"] == 0
            reply = client.post("/v1/record/init", json={"app_id": app_id, "group_id": publish["group_id"],
                                                          "auto": {}}).json()  # fmt: skip
            assert reply["code"] == 0, reply
            deadline = time.monotonic() + 30
            while listener.accepted < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert listener.accepted >= 2, "the recorder never tried the stream"
            time.sleep(0.5)  # its log line of the failed open
            finish = {"app_id": app_id, "record_id": reply["record_id"]}
            assert client.post("/v1/record/finish", json=finish).json()["code"] == 0
    finally:
        listener.close()
        logged = server.stop()
    assert f"127.0.0.1:{listener.port}/x.flv" in logged, logged[-3000:]  # the recorder logged the source
    assert "http://***@127.0.0.1" in logged and "x.flv?***" in logged, logged[-3000:]
    for secret in ("pass", "s3cr3tkey", "user:"):
        assert secret not in logged, logged[-3000:]
    assert "/nope\\x0a2026-12-03" in logged and "g\\x0a2026-12-03" in logged, logged[-3000:]
    forged = [line for line in logged.split("\n") if line.startswith("2026-12-03 08:00:00,000")]
    assert not forged, forged


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
