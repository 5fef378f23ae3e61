"""The demo's client of a cloudrec server: token flow, calls, downloads, and what to do on a failure."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import httpx

from cloudrec.auth import generate_token
from cloudrec.errors import Code

REQUEST_TIMEOUT_S = 30.0  # `finish` waits up to CLOUDREC_FINISH_WAIT_S (5 s) for the recorder's figures
TOKEN_TTL_S = 3600  # the demo's developer token: it is exchanged at once
HST_PROFILE_BASE, SEED_BASE = 605030000, 6050030000  # `hst` profile codes drop the seed's extra 0

START_SERVER = (
    "start it with `python3 make.py serve` in another shell and wait for its line `Uvicorn running on ...` "
    "(or pass --url of a running one)"
)
SAME_DATABASE = (
    "run the demo with the server's data dir: --data-dir DIR, or the same CLOUDREC_DATA_DIR / "
    "CLOUDREC_DATABASE_URL as the server"
)
HINTS: dict[int, str] = {
    Code.LOAD_LIMIT: "the server has no recorder free (CLOUDREC_MAX_RECORDINGS): finish a recording, or "
    "wait for one to end",
    Code.NO_SPACE: "the server's disk is nearly full (CLOUDREC_MIN_FREE_DISK_MB): free some space",
    Code.AUTHENTICATION: "the server does not know the demo developer, so it uses another database: "
    + SAME_DATABASE,
    Code.AUTH_FAILED: "the server does not know the demo app, so it uses another database: " + SAME_DATABASE,
}


class DemoError(Exception):
    """A step failed: what happened, and what to do about it."""

    def __init__(self, what: str, todo: str = "") -> None:
        super().__init__(what)
        self.what = what
        self.todo = todo


def seed_code(code: int) -> int:
    """The seed's 10-digit code of a reply code (the `hst` profile answers 605030xxx for 6050030xxx)."""
    if HST_PROFILE_BASE <= code < HST_PROFILE_BASE + 10000:
        return SEED_BASE + code - HST_PROFILE_BASE
    return code


class Client:
    """Calls of one app of one developer on a server at `base_url`."""

    def __init__(self, base_url: str, app_id: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.app_id = app_id
        self._http = httpx.Client(base_url=self.base_url, timeout=REQUEST_TIMEOUT_S)

    def close(self) -> None:
        self._http.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            r = self._http.request(method, path, **kwargs)
        except httpx.ConnectError:
            raise DemoError(f"no server at {self.base_url}", START_SERVER) from None
        except httpx.HTTPError as exc:
            raise DemoError(
                f"{method} {path} on {self.base_url} failed: {exc!r}", "check that the server is running"
            ) from None
        try:
            reply = r.json()
        except ValueError:
            reply = None
        if not isinstance(reply, dict) or not isinstance(reply.get("code"), int):
            raise DemoError(
                f"{self.base_url} answered {method} {path} with HTTP {r.status_code}, not a cloudrec reply",
                "point --url at a cloudrec server (`python3 make.py serve` starts one on port 28000)",
            )
        return reply

    def check(self, reply: dict[str, Any], what: str, hints: dict[int, str] | None = None) -> dict[str, Any]:
        """`reply` if its code is 0, else a DemoError naming the code, the server's message and a hint."""
        code = seed_code(int(reply["code"]))
        if code == 0:
            return reply
        todo = {**HINTS, **(hints or {})}.get(code, "see the server's log for the reason")
        raise DemoError(f"{what}: the server answered code {reply['code']}: {reply.get('msg')}", todo)

    def ping(self) -> None:
        """A cloudrec server answers at base_url (any JSON reply with a code will do)."""
        self._send("GET", "/access/token")

    def login(self, dev_id: str, dev_secret: str) -> None:
        """The token flow: a developer token (TokenGenerator) exchanged for an access_token."""
        auth = f"{dev_id}.{generate_token(dev_id, dev_secret, TOKEN_TTL_S)}"
        reply = self.check(
            self._send("GET", "/access/token", headers={"Authorization": auth}), "signing in as the demo"
        )
        self._http.headers["Authorization"] = str(reply["result"]["access_token"])

    def call(
        self, path: str, what: str, hints: dict[int, str] | None = None, **fields: Any
    ) -> dict[str, Any]:
        """POST `fields` (with the app_id) as JSON; the reply, checked."""
        return self.check(self._send("POST", path, json={"app_id": self.app_id, **fields}), what, hints)

    def get(self, path: str, what: str, **params: Any) -> dict[str, Any]:
        return self.check(self._send("GET", path, params={"app_id": self.app_id, **params}), what)

    def task(self, record_id: str) -> dict[str, Any]:
        reply = self.get("/v1/record/task/list", "reading the task", record_id=record_id)
        if not reply.get("record_list"):
            raise DemoError(f"the server lists no task {record_id}", "see the server's log")
        task: dict[str, Any] = reply["record_list"][0]
        return task

    def download(self, url: str, dest: Path, md5: str) -> int:
        """Fetch a signed file URL into `dest`, checking the md5 the API gave; its size."""
        digest = hashlib.md5()
        size = 0
        tmp = dest.with_name(dest.name + ".part")
        try:
            with httpx.stream("GET", url, timeout=REQUEST_TIMEOUT_S) as r:
                if r.status_code != 200:
                    raise DemoError(
                        f"downloading {url} answered HTTP {r.status_code}", "see the server's log"
                    )
                with tmp.open("wb") as f:
                    for chunk in r.iter_bytes():
                        f.write(chunk)
                        digest.update(chunk)
                        size += len(chunk)
        except httpx.HTTPError as exc:
            raise DemoError(
                f"downloading {url} failed: {exc!r}", "check that the server is running"
            ) from None
        if digest.hexdigest() != md5:
            tmp.unlink(missing_ok=True)
            raise DemoError(
                f"{dest.name}: md5 {digest.hexdigest()}, the API said {md5}", "see the server's log"
            )
        tmp.replace(dest)
        return size
