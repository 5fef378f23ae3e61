"""`cloudrec serve` as its own OS process (its own metrics, recorders, signals), and a client of it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloudrec.auth import generate_token
from cloudrec.config import Settings
from cloudrec.db.models import App, Developer, Task
from cloudrec.db.session import make_engine, make_sessionmaker


class Serve:
    """`python -m cloudrec serve` on a free loopback port, settings given as CLOUDREC_* variables."""

    def __init__(self, data: Path, db_url: str, log: Path, **settings: Any) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port: int = sock.getsockname()[1]
        sock.close()
        env = {
            **os.environ,
            "CLOUDREC_DATA_DIR": str(data),
            "CLOUDREC_DATABASE_URL": db_url,
            "CLOUDREC_HOST": "127.0.0.1",
            "CLOUDREC_PORT": str(self.port),
            **{f"CLOUDREC_{k.upper()}": str(v) for k, v in settings.items()},
        }
        self.data, self.db_url = data, db_url
        self.log = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cloudrec", "serve"], env=env, stdout=self.log, stderr=subprocess.STDOUT
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None, f"the server exited: see {log}"
            try:
                httpx.get(self.url + "/healthz", timeout=2)
                return
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@dataclass
class Account:
    """A developer and app written into the served database, calling the server with an access_token."""

    serve: Serve
    app_id: str
    client: httpx.Client
    sessions: sessionmaker[Session]

    @classmethod
    def create(cls, serve: Serve, dev_id: str = "devserve", app_id: str = "appserve") -> Account:
        secret = "s" * 32
        settings = Settings(data_dir=serve.data, database_url=serve.db_url)
        settings.prepare()  # the server's keys in its data dir: secrets are stored sealed
        sealed = settings.secret_box.seal("developer", dev_id, secret)
        sessions = make_sessionmaker(make_engine(serve.db_url))
        with sessions.begin() as s:
            s.add(Developer(dev_id=dev_id, secret=sealed, name="t", created_at=time.time()))
            s.flush()
            s.add(App(app_id=app_id, dev_id=dev_id, name="t", created_at=time.time()))
        auth = f"{dev_id}.{generate_token(dev_id, secret, 3600, now=time.time())}"
        token = httpx.get(serve.url + "/access/token", headers={"Authorization": auth}).json()
        headers = {"Authorization": token["result"]["access_token"]}
        return cls(serve, app_id, httpx.Client(base_url=serve.url, headers=headers, timeout=30), sessions)

    def call(self, path: str, **fields: Any) -> dict[str, Any]:
        r = self.client.post(path, json={"app_id": self.app_id, **fields})
        assert r.status_code == 200, r.text
        reply: dict[str, Any] = r.json()
        return reply

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        r = self.client.get(path, params={"app_id": self.app_id, **params})
        assert r.status_code == 200, r.text
        reply: dict[str, Any] = r.json()
        return reply

    def task(self, record_id: str) -> dict[str, Any]:
        (task,) = self.get("/v1/record/task/list", record_id=record_id)["record_list"]
        assert isinstance(task, dict)
        return task

    def wait_status(self, record_id: str, *statuses: int, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while (task := self.task(record_id))["status"] not in statuses:
            assert time.monotonic() < deadline, task
            time.sleep(0.1)
        return task

    def row(self, record_id: str) -> Task:
        """The task's database row (figures the API rounds)."""
        with self.sessions() as s:
            row = s.scalar(select(Task).where(Task.record_id == record_id))
            assert row is not None
            return row
