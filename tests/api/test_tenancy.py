"""Tenant isolation: developer B can neither read, change nor delete anything of developer A's apps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from api.harness import LiveServer, Tenant
from cloudrec.db.models import File, Task
from cloudrec.storage.local import LocalStorage


@pytest.fixture
def a(live_server: LiveServer) -> Tenant:
    return live_server.tenant()


@pytest.fixture
def b(live_server: LiveServer) -> Tenant:
    return live_server.tenant()


def _file_paths(live_server: LiveServer, record_id: str) -> list[Path]:
    storage = live_server.ctx.storage
    assert isinstance(storage, LocalStorage)
    with live_server.ctx.sessions() as s:
        task_id = s.scalar(select(Task.id).where(Task.record_id == record_id))
        return [storage.path(k) for k in s.scalars(select(File.storage_key).where(File.task_id == task_id))]


def test_b_cannot_use_a_app_id(a: Tenant, b: Tenant, live_server: LiveServer) -> None:
    recording = a.start_manual(group_id="room")
    done = a.finished()
    a.add_segments(done, 1)
    paths = _file_paths(live_server, done)
    a.call(
        "/v1/group/stream/publish", group_id="room", user_id="u", media_type=2, media_id="0", url="rtmp://h/x"
    )
    before = a.row(recording)

    posts: list[tuple[str, dict[str, Any]]] = [
        ("/v1/record/init", {"group_id": "room"}),
        ("/v1/record/set/layout", {"record_id": recording}),
        ("/v1/record/suspend", {"record_id": recording}),
        ("/v1/record/resume", {"record_id": recording}),
        ("/v1/record/finish", {"record_id": recording}),
        ("/v1/record/file", {"mode": 1, "record_list": [done]}),
        (
            "/v1/group/stream/publish",
            {"group_id": "room", "user_id": "x", "media_type": 2, "media_id": "0", "url": "rtmp://h/y"},
        ),
        (
            "/v1/group/stream/unpublish",
            {"group_id": "room", "user_id": "u", "media_type": 2, "media_id": "0"},
        ),
    ]
    for path, fields in posts:
        reply = b.post(path, {"app_id": a.app_id, **fields})
        assert reply["code"] == 6050030007, (path, reply)
        assert a.app_id in reply["msg"]
    gets: list[tuple[str, dict[str, Any]]] = [
        ("/v1/record/task/list", {}),
        ("/v1/record/file/download/url", {"record_id": done}),
        ("/v1/group/stream/list", {"group_id": "room"}),
    ]
    for path, params in gets:
        reply = b.get(path, app_id=a.app_id, **params)
        assert reply["code"] == 6050030007, (path, reply)
        assert set(reply) == {"code", "msg"}  # nothing of A's leaks into the reply

    # nothing of A's changed
    after = a.row(recording)
    assert (after.status, after.paused, after.layout, after.stop_time) == (
        before.status,
        before.paused,
        before.layout,
        before.stop_time,
    )
    assert a.get("/v1/record/task/list")["total_num"] == 2
    assert all(p.is_file() for p in paths)
    assert len(a.get("/v1/group/stream/list", group_id="room")["stream_list"]) == 1


def test_b_cannot_reach_a_tasks_through_its_own_app(a: Tenant, b: Tenant, live_server: LiveServer) -> None:
    recording = a.start_manual()
    done = a.finished()
    a.add_segments(done, 1)
    paths = _file_paths(live_server, done)
    for path in ("/v1/record/set/layout", "/v1/record/suspend", "/v1/record/resume", "/v1/record/finish"):
        assert b.call(path, record_id=recording)["code"] == 6050030001, path
    assert b.get("/v1/record/file/download/url", record_id=done)["code"] == 6050030001
    assert b.get("/v1/record/task/list", record_id=recording)["total_num"] == 0
    assert b.get("/v1/record/task/list")["total_num"] == 0
    assert b.call("/v1/record/file", mode=1, record_list=[done, recording]) == {"code": 0, "msg": "ok"}
    assert all(p.is_file() for p in paths)
    assert a.get("/v1/record/task/list")["total_num"] == 2
    assert a.task(recording)["status"] == 2


def test_groups_of_the_same_name_are_separate(a: Tenant, b: Tenant) -> None:
    a.call(
        "/v1/group/stream/publish", group_id="room", user_id="u", media_type=2, media_id="0", url="rtmp://h/a"
    )
    assert b.get("/v1/group/stream/list", group_id="room")["stream_list"] == []


def test_unknown_app(a: Tenant) -> None:
    assert a.call("/v1/record/init", app_id="no-such-app", group_id="g")["code"] == 6050030007
    assert a.get("/v1/record/task/list", app_id="no-such-app")["code"] == 6050030007


def test_a_second_app_of_the_same_developer_is_usable(a: Tenant, live_server: LiveServer) -> None:
    other_app = live_server.add_app(a.dev_id)
    record_id = a.init(app_id=other_app)
    assert a.get("/v1/record/task/list", app_id=other_app)["record_list"][0]["record_id"] == record_id
    assert a.get("/v1/record/task/list")["total_num"] == 0
