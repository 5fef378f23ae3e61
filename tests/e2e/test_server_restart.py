"""`kill -9` of `cloudrec serve` mid-recording: its recorders record on, the next server adopts them."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api.harness import DatabaseFactory
from support.decode import media_duration, video_frames
from support.serve import Account, Serve
from support.server import E2E_SETTINGS, PublishFn

from cloudrec.db.models import Task

SETTINGS: dict[str, Any] = {
    **E2E_SETTINGS,
    "min_free_disk_mb": 1,
    "lease_scan_s": 0.2,
    "recorder_orphan_wait_s": 30,  # a test that fails leaves no recorder behind for long
}


def start(data: Path, db_url: str, log: Path, **settings: Any) -> Serve:
    return Serve(data, db_url, log, **{**SETTINGS, **settings})


@pytest.fixture
def servers() -> Iterator[list[Serve]]:
    started: list[Serve] = []
    yield started
    for server in started:
        server.stop()


def call(client: httpx.Client, app_id: str, path: str, **fields: Any) -> dict[str, Any]:
    r = client.post(path, json={"app_id": app_id, **fields})
    assert r.status_code == 200, r.text
    reply: dict[str, Any] = r.json()
    return reply


def task_of(client: httpx.Client, app_id: str, record_id: str) -> dict[str, Any]:
    r = client.get("/v1/record/task/list", params={"app_id": app_id, "record_id": record_id})
    (task,) = r.json()["record_list"]
    assert isinstance(task, dict)
    return task


@pytest.mark.parametrize("stop", ["kill -9", "restart"])
def test_recordings_go_on_without_a_gap_while_no_server_runs(
    stop: str, databases: DatabaseFactory, publish: PublishFn, servers: list[Serve], tmp_path: Path
) -> None:
    """kill -9 of the server; or a restart (SIGTERM) of one that leaves its recordings running."""
    pub, url = publish("survivor", color=(0, 0, 255), tone_hz=440.0)
    pub.wait_live(url)
    data, db_url = tmp_path / "data", databases.new_url()
    detach = {"shutdown_detach": "true"} if stop == "restart" else {}
    servers.append(start(data, db_url, tmp_path / "serve.log", **detach))
    account = Account.create(servers[0], "devrestart", "apprestart")
    sessions, app_id, first = account.sessions, account.app_id, account.client
    for media_type in (2, 1):
        stream = {"group_id": "g", "user_id": "u1", "media_type": media_type, "media_id": "0", "url": url}
        assert call(first, app_id, "/v1/group/stream/publish", **stream)["code"] == 0
    init = {"width": 320, "height": 180, "frame_rate": 15, "file_duration": 15, "file_name": "cls"}
    reply = call(first, app_id, "/v1/record/init", group_id="g", auto={}, **init)
    assert reply["code"] == 0, reply
    record_id = reply["record_id"]
    started = time.monotonic()
    time.sleep(4.0)
    if stop == "kill -9":
        servers[0].proc.kill()  # no shutdown of any kind
    else:
        servers[0].proc.send_signal(signal.SIGTERM)  # a shutdown that lets go of the recorders
    servers[0].proc.wait(timeout=30)
    time.sleep(3.0)
    servers.append(start(data, db_url, tmp_path / "serve2.log"))
    second = httpx.Client(base_url=servers[1].url, headers=first.headers, timeout=30)
    deadline = time.monotonic() + 15
    while True:  # the new server adopts the recorder (the lease stays with its epoch)
        with sessions() as s:
            row = s.scalar(select_task(record_id))
            assert row is not None
        if row.lease_expires is not None and row.lease_expires > time.time() + 1:
            break
        assert time.monotonic() < deadline, "the recorder was not adopted"
        time.sleep(0.1)
    assert row.lease_epoch == 1 and row.status == 2
    assert task_of(second, app_id, record_id)["status"] == 2
    time.sleep(2.0)
    finish = call(second, app_id, "/v1/record/finish", record_id=record_id)
    wall = time.monotonic() - started
    assert finish["code"] == 0, finish
    deadline = time.monotonic() + 30
    while task_of(second, app_id, record_id)["status"] != 6:
        assert time.monotonic() < deadline, task_of(second, app_id, record_id)
        time.sleep(0.1)
    assert task_of(second, app_id, record_id)["gaps"] == [] and finish["gaps"] == []
    links = second.get("/v1/record/file/download/url", params={"app_id": app_id, "record_id": record_id})
    items = links.json()["data_list"]
    assert [i["file_name"] for i in items] == [f"cls_{n:04d}.mp4" for n in range(1, len(items) + 1)]
    total = 0.0
    for item in items:
        path = tmp_path / item["file_name"]
        path.write_bytes(httpx.get(item["url"]).content)
        assert len(video_frames(path)) >= 5
        total += media_duration(path)
        assert "gaps" not in json.loads(item["extent"])
    # the whole wall time is in the files: nothing was lost while no server ran
    assert wall - 1.5 < total < wall + 0.5, (total, wall)


def select_task(record_id: str) -> Any:
    from sqlalchemy import select

    return select(Task).where(Task.record_id == record_id)
