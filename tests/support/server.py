"""A real cloudrec server for tests: production wiring, uvicorn on a loopback port, an httpx client."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from cloudrec.auth import generate_token
from cloudrec.config import Settings
from cloudrec.context import AppContext
from cloudrec.db.models import App, Developer
from cloudrec.server import build_context, shutdown

from .mediaserver import free_port
from .publisher import Publisher

# A "minute" of file_duration is 0.2 s here: file_duration 15 → 3 s segments; timeout 5 → 1 s.
E2E_SETTINGS: dict[str, Any] = {
    "time_unit_s": 0.2,
    "timeout_scale": 0.2,
    "source_open_timeout_s": 3.0,
    "source_read_timeout_s": 1.0,
    "max_recordings": 4,
}


@dataclass
class RunningServer:
    """A server with one developer and one app, and a client holding that developer's access_token."""

    ctx: AppContext
    base_url: str
    app_id: str
    dev_id: str
    dev_secret: str
    client: httpx.Client

    def post(self, path: str, **body: Any) -> dict[str, Any]:
        r = self.client.post(path, json={"app_id": self.app_id, **body})
        data: dict[str, Any] = r.json()
        return data

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        r = self.client.get(path, params={"app_id": self.app_id, **params})
        data: dict[str, Any] = r.json()
        return data

    def task(self, record_id: str) -> dict[str, Any]:
        reply = self.get("/v1/record/task/list", record_id=record_id)
        assert reply["code"] == 0, reply
        assert reply["record_list"], f"task {record_id} not listed"
        task: dict[str, Any] = reply["record_list"][0]
        return task

    def wait_status(self, record_id: str, *statuses: int, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            task = self.task(record_id)
            if task["status"] in statuses:
                return task
            if time.monotonic() > deadline:
                raise AssertionError(f"task {record_id} stayed in status {task['status']}, wanted {statuses}")
            time.sleep(0.1)

    def publish(self, group_id: str, user_id: str, url: str, media_type: int, media_id: str = "0") -> None:
        reply = self.post(
            "/v1/group/stream/publish",
            group_id=group_id,
            user_id=user_id,
            media_type=media_type,
            media_id=media_id,
            url=url,
        )
        assert reply["code"] == 0, reply

    def unpublish(self, group_id: str, user_id: str, media_type: int, media_id: str = "0") -> None:
        reply = self.post(
            "/v1/group/stream/unpublish",
            group_id=group_id,
            user_id=user_id,
            media_type=media_type,
            media_id=media_id,
        )
        assert reply["code"] == 0, reply

    def download(self, record_id: str, dest: Path) -> list[tuple[Path, dict[str, Any]]]:
        """Every file of a task through its signed URL; checks the API's md5 against the bytes."""
        reply = self.get("/v1/record/file/download/url", record_id=record_id)
        assert reply["code"] == 0, reply
        out: list[tuple[Path, dict[str, Any]]] = []
        dest.mkdir(parents=True, exist_ok=True)
        for item in reply["data_list"]:
            r = httpx.get(item["url"], timeout=30)
            assert r.status_code == 200, (item["url"], r.status_code)
            assert hashlib.md5(r.content).hexdigest() == item["md5"], item["file_name"]
            path = dest / item["file_name"]
            path.write_bytes(r.content)
            out.append((path, item))
        return out


def add_developer(ctx: AppContext, app_id: str) -> tuple[str, str]:
    dev_id = "dev-" + app_id
    secret = hashlib.sha256(app_id.encode()).hexdigest()
    with ctx.sessions.begin() as s:
        if s.get(Developer, dev_id) is not None:
            return dev_id, secret
        s.add(Developer(dev_id=dev_id, secret=secret, name="", created_at=time.time()))
        s.flush()
        s.add(App(app_id=app_id, dev_id=dev_id, name="", created_at=time.time()))
    return dev_id, secret


@contextmanager
def running_server(data_dir: Path, database_url: str = "", **overrides: Any) -> Iterator[RunningServer]:
    port = free_port()
    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        host="127.0.0.1",
        port=port,
        **overrides,
    )
    ctx = build_context(settings)
    from cloudrec.api.app import create_app

    app = create_app(ctx)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    base_url = f"http://127.0.0.1:{port}"
    dev_id, secret = add_developer(ctx, "app1")
    with httpx.Client(base_url=base_url, timeout=30) as anon:
        r = anon.get("/access/token", headers={"Authorization": f"{dev_id}.{generate_token(dev_id, secret)}"})
        access = r.json()["result"]["access_token"]
    client = httpx.Client(base_url=base_url, timeout=30, headers={"Authorization": access})
    try:
        yield RunningServer(ctx, base_url, "app1", dev_id, secret, client)
    finally:
        client.close()
        server.should_exit = True
        thread.join(timeout=10)
        shutdown(ctx)


# `publish(name, **media spec)` of the e2e fixtures: a started publisher and its HTTP-FLV pull URL.
PublishFn = Callable[..., tuple[Publisher, str]]
