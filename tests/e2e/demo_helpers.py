"""Helpers of the `cloudrec demo` tests: a real-time server, the demo as a subprocess, what it leaves."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from api.harness import DatabaseFactory, LiveServer, Tenant, start_server
from sqlalchemy import select

from cloudrec.db.models import Developer
from cloudrec.demo.sources import DEMO_SOURCES

W, H = 640, 360  # the demo's canvas
COLOURS = {s.name: s.color for s in DEMO_SOURCES}
TONES = {s.name: s.tone_hz for s in DEMO_SOURCES}
# Real-time server settings: sources that fail are noticed fast; one recording at a time is enough.
SERVER_SETTINGS: dict[str, Any] = {
    "source_open_timeout_s": 3.0,
    "source_read_timeout_s": 1.0,
    "max_recordings": 2,
}
RUN_TIMEOUT_S = 60.0
SOURCE_URL = re.compile(r"http://127\.0\.0\.1:(\d+)/alice\.flv")


@contextlib.contextmanager
def demo_server(databases: DatabaseFactory, tmp_path: Path, **settings: Any) -> Iterator[LiveServer]:
    """A real server recording in real time, with its own database and data dir."""
    live = start_server(
        tmp_path / "data", databases.new_url(), real_time=True, **{**SERVER_SETTINGS, **settings}
    )
    try:
        yield live
    finally:
        live.stop()


def demo_command(server: LiveServer, *args: str, data_dir: Path | None = None) -> list[str]:
    data_dir = data_dir or server.settings.data_dir
    return [
        sys.executable,
        "-m",
        "cloudrec",
        "demo",
        "--url",
        server.base_url,
        "--data-dir",
        str(data_dir),
        *args,
    ]


def demo_env(server: LiveServer) -> dict[str, str]:
    """The server's database for the demo (a test server's SQLite file lies outside its data dir)."""
    return {**os.environ, "CLOUDREC_DATABASE_URL": server.settings.database_url}


def run_demo(server: LiveServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        demo_command(server, *args),
        env=demo_env(server),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )


def demo_tenant(server: LiveServer) -> Tenant:
    """A client of the developer and app the demo made."""
    with server.ctx.sessions() as s:
        secret = s.scalar(select(Developer.secret).where(Developer.dev_id == "demo"))
    assert secret is not None, "the demo made no developer"
    return server.tenant_of("demo", server.settings.secret_box.open("developer", "demo", secret), "demo")


def port_closed(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2.0)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def group_streams(tenant: Tenant, group_id: str) -> int:
    reply = tenant.get("/v1/group/stream/list", group_id=group_id)
    assert reply["code"] == 0, reply
    count: int = reply["total_num"]
    return count
