"""A real cloudrec server for tests: production wiring, uvicorn on loopback, a fresh database each.

```
DatabaseFactory.new_url()  -> a SQLite file, or a new schema of CLOUDREC_TEST_DATABASE_URL (PostgreSQL)
start_server(...)          -> LiveServer: build_app() in uvicorn on 127.0.0.1:<free port>, ManualClock,
                              the real recorder host wrapped in a SpyHost that records what it was told
LiveServer.tenant()        -> Tenant: a new developer + app + access_token, with an httpx client
```
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import psycopg
import uvicorn
from sqlalchemy import func, select, update

from cloudrec.auth import generate_token
from cloudrec.clock import ManualClock
from cloudrec.config import Settings
from cloudrec.context import AppContext
from cloudrec.db.models import App, Developer, File, Task
from cloudrec.db.session import normalise_url
from cloudrec.errors import CapacityError
from cloudrec.recorder.host import RecorderHost
from cloudrec.recorder.spec import (
    Command,
    Progress,
    SalvageJob,
    SegmentClosed,
    SegmentInfo,
    Snapshot,
    StreamInfo,
    TaskSpec,
)
from cloudrec.recorder.store import SegmentStore
from cloudrec.server import build_app
from cloudrec.storage.spec import storage_spec
from cloudrec.tasks.naming import new_record_id

# Room for every recording the API tests leave running; the capacity tests lower it themselves.
# Its clock stands still, so the refusals of every test would add up to a lockout of 127.0.0.1: the
# brute-force limit is tested on servers of its own. Their webhook receivers listen on loopback, which
# the default egress policy refuses for webhooks.
LIVE_SERVER_SETTINGS: dict[str, Any] = {
    "max_recordings": 64,
    "min_free_disk_mb": 1,
    "auth_max_failures": 0,
    "egress_webhook_allow_networks": ["127.0.0.0/8"],
}

RECORD_ID = re.compile(r"\d{14}_[0-9a-f]{16}")


# ---- databases -------------------------------------------------------------------------------


class DatabaseFactory:
    """Fresh, empty databases: SQLite files by default, PostgreSQL schemas when a base URL is given."""

    def __init__(self, base_url: str, tmp_dir: Path) -> None:
        self.base_url = base_url
        self.tmp_dir = tmp_dir
        self.run_id = secrets.token_hex(4)
        self.schemas: list[str] = []

    @property
    def is_postgres(self) -> bool:
        return self.base_url.startswith("postgres")

    def new_url(self) -> str:
        """An empty database: the server's migrations create its tables."""
        if not self.is_postgres:
            return f"sqlite:///{self.tmp_dir / f'db-{secrets.token_hex(4)}.sqlite'}"
        schema = f"cloudrec_t{self.run_id}_{len(self.schemas)}"
        with psycopg.connect(self._libpq_url(), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            conn.execute(f'CREATE SCHEMA "{schema}"')
        self.schemas.append(schema)
        parts = urlsplit(self.base_url)
        query = [*parse_qsl(parts.query), ("options", f"-csearch_path={schema}")]
        return urlunsplit(parts._replace(query=urlencode(query)))

    def _libpq_url(self) -> str:
        return normalise_url(self.base_url).replace("postgresql+psycopg://", "postgresql://", 1)

    def drop_all(self) -> None:
        """Drop the schemas of this run, and those an interrupted earlier run left behind."""
        if not self.is_postgres:
            return
        with psycopg.connect(self._libpq_url(), autocommit=True) as conn:
            rows = conn.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'cloudrec\\_t%%'"
            ).fetchall()
            for (schema,) in rows:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


# ---- the recorder host, observed ---------------------------------------------------------------


class SpyHost:
    """The real recorder host, with a record of what the control plane told it (RecorderHost)."""

    def __init__(self, inner: RecorderHost) -> None:
        self.inner = inner
        self.starts: list[TaskSpec] = []
        self.commands: list[tuple[str, Command, bool]] = []
        self.group_changes: list[tuple[str, str, tuple[StreamInfo, ...]]] = []
        self.refuse_starts = 0  # the next n starts raise CapacityError (a race the pre-check missed)
        self.start_error: Exception | None = None  # the next start raises this (an unexpected failure)
        self.command_error: Exception | None = None  # the next command raises this
        self._lock = threading.Lock()

    def start(self, spec: TaskSpec) -> None:
        with self._lock:
            self.starts.append(spec)
            refuse, self.refuse_starts = self.refuse_starts > 0, max(0, self.refuse_starts - 1)
            error, self.start_error = self.start_error, None
        if refuse:
            raise CapacityError("recorder capacity reached (test)")
        if error is not None:
            raise error
        self.inner.start(spec)

    def command(self, record_id: str, cmd: Command) -> bool:
        with self._lock:
            error, self.command_error = self.command_error, None
        if error is not None:
            raise error
        delivered = self.inner.command(record_id, cmd)
        with self._lock:
            self.commands.append((record_id, cmd, delivered))
        return delivered

    def group_changed(self, app_id: str, group_id: str, streams: tuple[StreamInfo, ...]) -> None:
        with self._lock:
            self.group_changes.append((app_id, group_id, streams))
        self.inner.group_changed(app_id, group_id, streams)

    def snapshot(self, record_id: str, width: int) -> Snapshot | None:
        return self.inner.snapshot(record_id, width)

    def running(self) -> set[str]:
        return self.inner.running()

    def free_slots(self) -> int:
        return self.inner.free_slots()

    def adopt(self, spec: TaskSpec) -> bool:
        return self.inner.adopt(spec)

    def abandon(self, record_id: str, epoch: int) -> None:
        self.inner.abandon(record_id, epoch)

    def salvage(self, job: SalvageJob) -> list[Progress]:
        return self.inner.salvage(job)

    def close(self) -> None:
        self.inner.close()

    def detach(self) -> None:
        self.inner.detach()

    def __getattr__(self, name: str) -> Any:  # the host's extras: sink, pid, salvage
        return getattr(self.inner, name)

    # ---- what tests ask --------------------------------------------------------------------

    def spec_of(self, record_id: str) -> TaskSpec:
        with self._lock:
            specs = [s for s in self.starts if s.record_id == record_id]
        assert specs, f"the host was never asked to start {record_id}"
        return specs[-1]

    def commands_of(self, record_id: str) -> list[Command]:
        with self._lock:
            return [cmd for rid, cmd, _ in self.commands if rid == record_id]

    def changes_of(self, app_id: str, group_id: str) -> list[tuple[StreamInfo, ...]]:
        with self._lock:
            return [streams for a, g, streams in self.group_changes if (a, g) == (app_id, group_id)]


# ---- the server and its tenants -----------------------------------------------------------------


def contract_json(response: httpx.Response) -> dict[str, Any]:
    """The body of a reply, checked to be the contract's JSON: an object with an int code and a msg."""
    assert response.headers.get("content-type", "").startswith("application/json"), response.headers
    data = response.json()
    assert isinstance(data, dict), data
    assert isinstance(data.get("code"), int) and not isinstance(data["code"], bool), data
    assert isinstance(data.get("msg"), str), data
    return data


@dataclass
class Tenant:
    """A developer with one app and a valid access_token, talking to a LiveServer."""

    server: LiveServer
    dev_id: str
    dev_secret: str
    app_id: str
    access_token: str
    client: httpx.Client
    app_ids: list[str] = field(default_factory=list)  # every app of the developer (app_id first)

    def __post_init__(self) -> None:
        self.app_ids.insert(0, self.app_id)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.request(method, path, **kwargs)

    def post(self, path: str, body: Any) -> dict[str, Any]:
        """POST `body` as JSON exactly as given (no app_id added); the reply must be HTTP 200."""
        r = self.client.post(path, json=body)
        assert r.status_code == 200, (r.status_code, r.text)
        return contract_json(r)

    def post_raw(
        self, path: str, content: str | bytes, content_type: str = "application/json"
    ) -> dict[str, Any]:
        r = self.client.post(path, content=content, headers={"Content-Type": content_type})
        assert r.status_code == 200, (r.status_code, r.text)
        return contract_json(r)

    def call(self, path: str, **fields: Any) -> dict[str, Any]:
        """POST a JSON body of `fields`, with this tenant's app_id unless given."""
        return self.post(path, {"app_id": self.app_id, **fields})

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        """GET with query `params`, with this tenant's app_id unless given."""
        r = self.client.get(path, params={"app_id": self.app_id, **params})
        assert r.status_code == 200, (r.status_code, r.text)
        return contract_json(r)

    def init(self, **fields: Any) -> str:
        """A new task (default group: a fresh one); its record_id."""
        fields.setdefault("group_id", "g-" + secrets.token_hex(4))
        reply = self.call("/v1/record/init", **fields)
        assert reply["code"] == 0, reply
        record_id: str = reply["record_id"]
        return record_id

    def start_manual(self, **fields: Any) -> str:
        """A manual task that records (its first layout set): status 2."""
        record_id = self.init(**fields)
        reply = self.call("/v1/record/set/layout", record_id=record_id)
        assert reply["code"] == 0, reply
        return record_id

    def task(self, record_id: str) -> dict[str, Any]:
        reply = self.get("/v1/record/task/list", record_id=record_id)
        assert reply["code"] == 0, reply
        assert reply["total_num"] == 1, reply
        task: dict[str, Any] = reply["record_list"][0]
        return task

    def wait_status(self, record_id: str, *statuses: int, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            task = self.task(record_id)
            if task["status"] in statuses:
                return task
            assert time.monotonic() < deadline, (
                f"{record_id} stayed in status {task['status']}, not {statuses}"
            )
            time.sleep(0.05)

    def finished(self, **fields: Any) -> str:
        """A task its recorder has finished (status 6) without a file of its own: a manual one, finished
        before its first layout (a layout starts its timeline, and a file)."""
        record_id = self.init(**fields)
        reply = self.call("/v1/record/finish", record_id=record_id)
        assert reply["code"] == 0, reply
        self.wait_status(record_id, 6)
        return record_id

    def add_segments(
        self, record_id: str, count: int, size: int = 2000, first: int | None = None
    ) -> list[bytes]:
        """Segment files stored and reported through the server's progress sink, as a recorder does
        (numbered from `first`, by default after the files the task's recorder wrote itself)."""
        name = self.row(record_id).file_name
        if first is None:
            with self.server.ctx.sessions() as s:
                task_id = s.scalar(select(Task.id).where(Task.record_id == record_id))
                first = 1 + (s.scalar(select(func.max(File.index)).where(File.task_id == task_id)) or 0)
        work = self.server.settings.work_dir / record_id
        work.mkdir(parents=True, exist_ok=True)
        contents = []
        for index in range(first, first + count):
            data = os.urandom(size)
            path = work / f"{name}_{index:04d}.mp4"
            path.write_bytes(data)
            info = SegmentInfo(
                index=index,
                name=path.name,
                path=str(path),
                size=len(data),
                md5=hashlib.md5(data).hexdigest(),
                duration=10.0 + index / 4,
                start_time=self.server.clock.time(),
            )
            self.store_segment(record_id, info)
            contents.append(data)
        with self.server.ctx.sessions() as s:
            task_id = s.scalar(select(Task.id).where(Task.record_id == record_id))
            assert all(s.scalars(select(File.stored).where(File.task_id == task_id))), "upload unconfirmed"
        return contents

    def store_segment(self, record_id: str, info: SegmentInfo, *, wait: bool = True) -> SegmentStore:
        """What a recorder does with a closed segment: reports it closed, stores it itself (with the
        recorder's `SegmentStore`, into the server's store) and reports the object stored. `wait`:
        until it is stored and the reports are applied (then the store is closed)."""
        sink = self.server.host.sink
        sink.handle(record_id, SegmentClosed(info))
        store = SegmentStore(
            storage_spec(self.server.settings),
            self.app_id,
            record_id,
            lambda event: sink.handle(record_id, event),
            max_backoff_s=0.5,
        )
        store.submit(info)
        if wait:
            assert store.wait(30), "the store did not take the segment"
            store.close()
            sink.drain()
        return store

    def seed_task(self, status: int, **values: Any) -> str:
        """A task row no recorder of this server runs (as another server run left it), in `status`."""
        now = self.server.clock.time()
        record_id = new_record_id(now)
        fields: dict[str, Any] = {
            "group_id": "seeded",
            "file_name": record_id,
            "created_at": now,
            "start_time": now if status != 1 else None,
            "stop_time": now if status not in (1, 2) else None,
            **values,
        }
        with self.server.ctx.sessions.begin() as s:
            s.add(Task(record_id=record_id, app_id=self.app_id, status=status, **fields))
        return record_id

    def set_row(self, record_id: str, **values: Any) -> None:
        """Change the task's row as the progress sink would (stats, status)."""
        with self.server.ctx.sessions.begin() as s:
            s.execute(update(Task).where(Task.record_id == record_id).values(**values))

    def row(self, record_id: str) -> Task:
        """The task's database row (what the server stored)."""
        with self.server.ctx.sessions() as s:
            task = s.scalar(select(Task).where(Task.record_id == record_id))
            assert task is not None, record_id
            return task


@dataclass
class LiveServer:
    """build_app() served by uvicorn in a thread; its ManualClock moves only when a test says so."""

    ctx: AppContext
    base_url: str
    clock: ManualClock
    host: SpyHost
    uvicorn_server: uvicorn.Server
    thread: threading.Thread
    tenants: list[Tenant] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        return self.ctx.settings

    def http(self) -> httpx.Client:
        """A client without credentials."""
        return httpx.Client(base_url=self.base_url, timeout=30)

    def add_developer(self, secret: str | None = None) -> tuple[str, str]:
        """A new developer: (dev_id, secret), the secret made here unless given (e.g. a vendor's)."""
        dev_id = "dev" + secrets.token_hex(8)
        secret = secret or secrets.token_hex(24)
        with self.ctx.sessions.begin() as s:
            s.add(self.new_developer(dev_id, secret))
        return dev_id, secret

    def new_developer(self, dev_id: str, secret: str) -> Developer:
        """The row of a developer, its secret sealed as the CLI seals it."""
        sealed = self.settings.secret_box.seal("developer", dev_id, secret)
        return Developer(dev_id=dev_id, secret=sealed, name="test", created_at=self.clock.time())

    def add_app(self, dev_id: str, app_id: str | None = None) -> str:
        app_id = app_id or "app" + secrets.token_hex(8)
        with self.ctx.sessions.begin() as s:
            s.add(App(app_id=app_id, dev_id=dev_id, name="test", created_at=self.clock.time()))
        for tenant in self.tenants:
            if tenant.dev_id == dev_id:
                tenant.app_ids.append(app_id)
        return app_id

    def developer_token(self, dev_id: str, secret: str, ttl_s: int = 3600) -> str:
        """The Authorization value of GET /access/token, made by the TokenGenerator at the server's time."""
        return f"{dev_id}.{generate_token(dev_id, secret, ttl_s, now=self.clock.time())}"

    def access_token(self, dev_id: str, secret: str) -> str:
        with self.http() as c:
            r = c.get("/access/token", headers={"Authorization": self.developer_token(dev_id, secret)})
        reply = contract_json(r)
        assert reply["code"] == 0, reply
        token: str = reply["result"]["access_token"]
        return token

    def tenant(self) -> Tenant:
        dev_id, secret = self.add_developer()
        return self.tenant_of(dev_id, secret, self.add_app(dev_id))

    def tenant_of(self, dev_id: str, secret: str, app_id: str) -> Tenant:
        """A client of an existing developer and app (e.g. one made before a restart of the server)."""
        token = self.access_token(dev_id, secret)
        client = httpx.Client(base_url=self.base_url, timeout=30, headers={"Authorization": token})
        tenant = Tenant(self, dev_id, secret, app_id, token, client)
        self.tenants.append(tenant)
        return tenant

    def finish_recordings(self) -> None:
        """Finish the tenants' tasks that still record, freeing their recorder slots (test teardown)."""
        for tenant in self.tenants:
            with self.ctx.sessions() as s:
                active = s.execute(
                    select(Task.app_id, Task.record_id).where(
                        Task.app_id.in_(tenant.app_ids), Task.status.in_([1, 2])
                    )
                ).all()
            for app_id, record_id in active:
                tenant.call("/v1/record/finish", app_id=app_id, record_id=record_id)
            tenant.client.close()
        self.tenants.clear()

    def stop(self) -> None:
        self.uvicorn_server.should_exit = True  # the lifespan's shutdown finishes running recordings
        self.thread.join(timeout=60)


class WallClock(ManualClock):
    """A ManualClock that follows the wall clock: for servers that record real media in real time."""

    def time(self) -> float:
        return time.time()

    def advance(self, seconds: float) -> None:
        raise AssertionError("a real-time test server's clock cannot be moved")


def start_server(
    data_dir: Path, database_url: str, *, real_time: bool = False, **overrides: Any
) -> LiveServer:
    """A real server on a free loopback port: `build_app` (migrations, storage, sink, recorder host).

    Its clock is a ManualClock that tests move, or with `real_time` the wall clock."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    settings = Settings(
        data_dir=data_dir, database_url=database_url, host="127.0.0.1", port=port, **overrides
    )
    clock = WallClock() if real_time else ManualClock()
    app = build_app(settings, clock)
    ctx: AppContext = app.state.ctx
    spy = SpyHost(ctx.host)
    ctx.host = spy
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn-{port}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    return LiveServer(ctx, f"http://127.0.0.1:{port}", clock, spy, server, thread)


ServerFactory = Callable[..., LiveServer]  # the `server_factory` fixture: settings overrides → a new server
