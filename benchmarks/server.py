"""A `cloudrec serve` subprocess for scenarios 5 and 6, and scenario 5: finish -> downloadable."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from cloudrec.config import Settings

log = logging.getLogger(__name__)

CLOUDREC = Path(sys.executable).parent / "cloudrec"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _pairs(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


class Server:
    """A `cloudrec serve` on loopback with its own data directory, and an authenticated client."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "CLOUDREC_DATA_DIR": str(data_dir),
            "CLOUDREC_HOST": "127.0.0.1",
            "CLOUDREC_PORT": str(self.port),
            "CLOUDREC_MIN_FREE_DISK_MB": "1",
            **(env or {}),
        }
        data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = data_dir
        self.dev_id = ""
        self.log = (data_dir / "serve.log").open("ab")  # a server started again on the directory appends
        self.proc = subprocess.Popen([str(CLOUDREC), "serve"], env=self.env, stdout=self.log, stderr=self.log)
        self.access = ""
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(self.base + "/access/token", timeout=1).close()
            except urllib.error.HTTPError:
                break  # up (it answers, unauthenticated)
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"cloudrec serve did not start; see {data_dir / 'serve.log'}"
                    ) from None
                time.sleep(0.1)
            else:
                break

    def _cli(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [str(CLOUDREC), *args], env=self.env, input=stdin, capture_output=True, text=True, check=True
        )
        return done.stdout

    @property
    def db_url(self) -> str:
        """The server's database, derived as the server derives it (its data dir, CLOUDREC_* env)."""
        return Settings(data_dir=self.data_dir).db_url

    def cpu_seconds(self) -> float:
        """User + system CPU seconds of the server process so far (its own threads, not its recorders)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def login(self, app_id: str) -> None:
        dev = _pairs(self._cli("dev", "create"))
        self.dev_id = dev["dev_id"]
        self.add_app(app_id)
        # the secret on standard input: the CLI never takes one as an argument
        auth = self._cli(
            "token", "--dev-id", dev["dev_id"], "--secret-stdin", stdin=dev["dev_secret"]
        ).strip()
        reply = self.call("GET", "/access/token", headers={"Authorization": auth})
        self.access = reply["result"]["access_token"]

    def add_app(self, app_id: str) -> None:
        """Another app of the developer of `login` (operator CLI)."""
        self._cli("app", "create", "--dev-id", self.dev_id, "--app-id", app_id)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        headers = {"Content-Type": "application/json", **kw.get("headers", {})}
        if self.access:
            headers["Authorization"] = self.access
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=30) as response:
            reply: dict[str, Any] = json.loads(response.read())
        if reply.get("code", 0) != 0:
            raise RuntimeError(f"{method} {path}: {reply}")
        return reply

    def status(self, app_id: str, record_id: str) -> int:
        query = urllib.parse.urlencode({"app_id": app_id, "record_id": record_id})
        reply = self.call("GET", f"/v1/record/task/list?{query}")
        return int(reply["record_list"][0]["status"])

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def finish_to_download(server: Server, urls: list[str], seconds: float, group: str) -> dict[str, float]:
    """Record `seconds` (auto 2x2 720p30) and time finish -> status 6 -> the first file downloaded."""
    app = "bench"
    for i, url in enumerate(urls):
        server.call(
            "POST",
            "/v1/group/stream/publish",
            {
                "app_id": app,
                "group_id": group,
                "user_id": f"u{i}",
                "media_type": 2,
                "media_id": "0",
                "url": url,
            },
        )
    init = server.call(
        "POST",
        "/v1/record/init",
        {
            "app_id": app,
            "group_id": group,
            "file_name": group,
            "width": 1280,
            "height": 720,
            "frame_rate": 30,
            "auto": {},
        },
    )
    record_id = init["record_id"]
    time.sleep(seconds)
    t0 = time.monotonic()
    finish = server.call("POST", "/v1/record/finish", {"app_id": app, "record_id": record_id})
    t_reply = time.monotonic() - t0
    while (status := server.status(app, record_id)) != 6:
        if status == -1 or time.monotonic() - t0 > 60:
            raise RuntimeError(f"task {record_id} ended in status {status}")
        time.sleep(0.02)
    t_done = time.monotonic() - t0
    query = urllib.parse.urlencode({"app_id": app, "record_id": record_id})
    files = server.call("GET", f"/v1/record/file/download/url?{query}")
    with urllib.request.urlopen(files["data_list"][0]["url"], timeout=30) as response:
        size = len(response.read())
    t_file = time.monotonic() - t0
    return {
        "finish_reply": t_reply,
        "finish_to_done": t_done,
        "finish_to_downloaded": t_file,
        "media_duration": float(finish.get("media_duration", 0.0)),
        "bytes": float(size),
    }
