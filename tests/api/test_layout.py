"""POST /v1/record/set/layout: the layout the recorder gets, every range edge, and each refusal."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import update

from api.harness import LiveServer, Tenant
from cloudrec.db.models import Task
from cloudrec.recorder.spec import AudioRef, CropMode, Layout, MediaType, SetLayout, VideoTile
from cloudrec.tasks.service import TaskService

LAYOUT = "/v1/record/set/layout"


def _last_layout(live_server: LiveServer, record_id: str) -> Layout:
    layouts = [c.layout for c in live_server.host.commands_of(record_id) if isinstance(c, SetLayout)]
    assert layouts, "no layout reached the recorder"
    return layouts[-1]


def test_first_layout_starts_the_recording(tenant: Tenant, live_server: LiveServer) -> None:
    record_id = tenant.init()
    assert tenant.task(record_id)["status"] == 1
    reply = tenant.call(
        LAYOUT,
        record_id=record_id,
        seq="L1",
        audio_list=[{"user_id": "Jack_ID", "media_id": 1, "media_type": 1}],
        video_list=[
            {"user_id": "Jack_ID", "media_id": 0, "media_type": 2, "crop_mode": 3, "w": 530, "h": 380},
            {
                "user_id": "Paul_ID",
                "media_id": 0,
                "media_type": 2,
                "crop_mode": 3,
                "x": 531,
                "w": 530,
                "h": 380,
            },
        ],
    )
    assert reply == {"code": 0, "msg": "OK", "seq": "L1", "record_id": record_id}
    task = tenant.task(record_id)
    assert task["status"] == 2 and task["start_time"] is not None
    assert _last_layout(live_server, record_id) == Layout(
        video=(
            VideoTile("Jack_ID", "0", MediaType.CAMERA, 0, 0, 530, 380, CropMode.FIT),
            VideoTile("Paul_ID", "0", MediaType.CAMERA, 531, 0, 530, 380, CropMode.FIT),
        ),
        audio=(AudioRef("Jack_ID", "1"),),
    )
    # delivered to the running recorder
    assert all(delivered for rid, _, delivered in live_server.host.commands if rid == record_id)


def test_tile_defaults(tenant: Tenant, live_server: LiveServer) -> None:
    record_id = tenant.init()
    tenant.call(LAYOUT, record_id=record_id, video_list=[{"user_id": "u", "media_id": "m", "media_type": 0}])
    tile = _last_layout(live_server, record_id).video[0]
    assert (tile.x, tile.y, tile.w, tile.h, tile.crop_mode) == (0, 0, 320, 240, CropMode.STRETCH)


def test_layout_replaces_the_whole_layout(tenant: Tenant, live_server: LiveServer) -> None:
    record_id = tenant.init()
    tenant.call(
        LAYOUT,
        record_id=record_id,
        audio_list=[{"user_id": "a", "media_id": "1", "media_type": 1}],
        video_list=[{"user_id": "a", "media_id": "0", "media_type": 2}],
    )
    first_start = tenant.task(record_id)["start_time"]
    live_server.clock.advance(5)
    reply = tenant.call(
        LAYOUT, record_id=record_id, video_list=[{"user_id": "b", "media_id": "0", "media_type": 3}]
    )
    assert reply["code"] == 0
    assert _last_layout(live_server, record_id) == Layout(video=(VideoTile("b", "0", MediaType.WHITEBOARD),))
    assert tenant.row(record_id).layout == {
        "video": [
            {
                "user_id": "b",
                "media_id": "0",
                "media_type": 3,
                "x": 0,
                "y": 0,
                "w": 320,
                "h": 240,
                "crop_mode": 1,
            }
        ],
        "audio": [],
    }
    assert tenant.task(record_id)["start_time"] == first_start  # the recording started once


def test_empty_layout_starts_the_recording_too(tenant: Tenant) -> None:
    record_id = tenant.init()
    assert tenant.call(LAYOUT, record_id=record_id)["code"] == 0
    assert tenant.task(record_id)["status"] == 2


@pytest.mark.parametrize(("user_id", "media_id"), [(7, 0), ("7", "0"), (7.0, "0")])
def test_ids_as_numbers_or_strings_name_the_same_stream(
    tenant: Tenant, live_server: LiveServer, user_id: Any, media_id: Any
) -> None:
    record_id = tenant.init()
    tenant.call(
        LAYOUT, record_id=record_id, video_list=[{"user_id": user_id, "media_id": media_id, "media_type": 2}]
    )
    tile = _last_layout(live_server, record_id).video[0]
    assert (tile.user_id, tile.media_id) == ("7", "0")


EDGES: list[tuple[str, Any, bool]] = [
    ("x", -1, False),
    ("x", 0, True),
    ("x", 1920, True),
    ("x", 1921, False),
    ("y", -1, False),
    ("y", 0, True),
    ("y", 1080, True),
    ("y", 1081, False),
    ("w", 0, False),
    ("w", 1, True),
    ("w", 1920, True),
    ("w", 1921, False),
    ("h", 0, False),
    ("h", 1, True),
    ("h", 1080, True),
    ("h", 1081, False),
    ("crop_mode", 0, False),
    ("crop_mode", 1, True),
    ("crop_mode", 3, True),
    ("crop_mode", 4, False),
    ("media_type", -1, False),
    ("media_type", 0, True),
    ("media_type", 1, False),
    ("media_type", 2, True),
    ("media_type", 3, True),
    ("media_type", 4, True),  # the vendor's whiteboard: stored as 3 (see tests/api/test_compat.py)
    ("media_type", 5, False),
]


@pytest.mark.parametrize(("field", "value", "ok"), EDGES)
def test_tile_range_edges(tenant: Tenant, live_server: LiveServer, field: str, value: int, ok: bool) -> None:
    record_id = tenant.init()
    tile: dict[str, Any] = {"user_id": "u", "media_id": "0", "media_type": 2, field: value}
    reply = tenant.call(LAYOUT, record_id=record_id, video_list=[tile])
    if ok:
        assert reply["code"] == 0, reply
        expected = 3 if (field, value) == ("media_type", 4) else value
        assert getattr(_last_layout(live_server, record_id).video[0], field) == expected
    else:
        assert reply["code"] == 6050030003, reply
        assert f"video_list[0].{field}" in reply["msg"]
        assert tenant.task(record_id)["status"] == 1  # nothing changed


@pytest.mark.parametrize(("value", "ok"), [(0, False), (1, True), ("1", True), (2, False)])
def test_audio_media_type(tenant: Tenant, value: Any, ok: bool) -> None:
    record_id = tenant.init()
    reply = tenant.call(
        LAYOUT, record_id=record_id, audio_list=[{"user_id": "u", "media_id": "1", "media_type": value}]
    )
    assert reply["code"] == (0 if ok else 6050030003), reply


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"video_list": [{"media_id": "0", "media_type": 2}]}, "video_list[0].user_id"),
        ({"video_list": [{"user_id": "u", "media_type": 2}]}, "video_list[0].media_id"),
        ({"video_list": [{"user_id": "u", "media_id": "0"}]}, "video_list[0].media_type"),
        ({"video_list": [{"user_id": "u", "media_id": "0", "media_type": 2, "x": 1.5}]}, "video_list[0].x"),
        ({"video_list": [{"user_id": "u", "media_id": "0", "media_type": 2, "w": True}]}, "video_list[0].w"),
        ({"video_list": [{"user_id": "", "media_id": "0", "media_type": 2}]}, "video_list[0].user_id"),
        ({"video_list": [{"user_id": [1], "media_id": "0", "media_type": 2}]}, "video_list[0].user_id"),
        ({"video_list": ["tile"]}, "video_list[0]"),
        ({"video_list": {"user_id": "u"}}, "video_list"),
        ({"audio_list": [{"media_id": "1", "media_type": 1}]}, "audio_list[0].user_id"),
        ({"audio_list": "all"}, "audio_list"),
        ({"seq": 1}, "seq"),
    ],
)
def test_malformed_lists(tenant: Tenant, fields: dict[str, Any], field: str) -> None:
    record_id = tenant.init()
    reply = tenant.call(LAYOUT, record_id=record_id, **fields)
    assert reply["code"] == 6050030003, reply
    assert field in reply["msg"]


def test_missing_record_id(tenant: Tenant) -> None:
    reply = tenant.call(LAYOUT)
    assert reply["code"] == 6050030003 and "record_id is required" in reply["msg"]


def test_original_example_with_braces_is_invalid_json(tenant: Tenant) -> None:
    record_id = tenant.init()
    original = (
        '{"app_id":"%APP%","record_id":"%REC%",'
        '"audio_list":{ {"user_id":"Jack_ID","media_id":1,"media_type":1},'
        ' {"user_id":"Paul_ID","media_id":1,"media_type":1} },'
        '"video_list":{ {"user_id":"Jack_ID","media_id":0,"media_type":2,"crop_mode":3,"w":530,"h":380} }}'
    )
    body = original.replace("%APP%", tenant.app_id).replace("%REC%", record_id)
    assert tenant.post_raw(LAYOUT, body)["code"] == 6050030005
    # the contract's valid form of the same example
    valid = body.replace(':{ {"user_id"', ':[ {"user_id"').replace("} },", "} ],").replace("} }}", "} ]}")
    assert json.loads(valid)
    assert tenant.post_raw(LAYOUT, valid)["code"] == 0


def test_trailing_comma_in_a_list_is_invalid_json(tenant: Tenant) -> None:
    record_id = tenant.init()
    body = json.dumps({"app_id": tenant.app_id, "record_id": record_id})[:-1]
    body += ', "video_list": [{"user_id": "u", "media_id": "0", "media_type": 2},]}'
    assert tenant.post_raw(LAYOUT, body)["code"] == 6050030005


# ---- refusals -------------------------------------------------------------------------------------


def test_automatic_task_takes_no_layout(tenant: Tenant) -> None:
    record_id = tenant.init(auto={})
    reply = tenant.call(LAYOUT, record_id=record_id)
    assert reply["code"] == 6050030035, reply


def test_suspended_task_takes_no_layout(tenant: Tenant) -> None:
    record_id = tenant.start_manual()
    assert tenant.call("/v1/record/suspend", record_id=record_id)["code"] == 0
    assert tenant.call(LAYOUT, record_id=record_id)["code"] == 6050030033
    assert tenant.call("/v1/record/resume", record_id=record_id)["code"] == 0
    assert tenant.call(LAYOUT, record_id=record_id)["code"] == 0


def test_finished_task_takes_no_layout(tenant: Tenant) -> None:
    record_id = tenant.start_manual()
    assert tenant.call("/v1/record/finish", record_id=record_id)["code"] == 0
    reply = tenant.call(LAYOUT, record_id=record_id)
    assert reply["code"] == 6050030001, reply


def test_unknown_task(tenant: Tenant) -> None:
    reply = tenant.call(LAYOUT, record_id="20200101000000_0000000000000000")
    assert reply["code"] == 6050030001, reply


def test_task_suspended_while_its_layout_is_set(
    tenant: Tenant, live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A suspend landing between the checks and the write: the layout is neither stored nor sent, and
    the reply says why (suspended), as if it had come first."""
    record_id = tenant.start_manual()
    sent, stored = len(live_server.host.commands_of(record_id)), tenant.row(record_id).layout
    check = TaskService._check_layout_allowed
    calls = 0

    def check_then_suspend(self: TaskService, task: Task) -> None:
        nonlocal calls
        calls += 1
        check(self, task)
        if calls == 1:  # another request suspends the task now
            with live_server.ctx.sessions.begin() as s:
                s.execute(update(Task).where(Task.record_id == record_id).values(paused=True))

    monkeypatch.setattr(TaskService, "_check_layout_allowed", check_then_suspend)
    reply = tenant.call(
        LAYOUT, record_id=record_id, video_list=[{"user_id": "u", "media_id": 0, "media_type": 2}]
    )
    assert reply["code"] == 6050030033, reply
    assert calls == 2
    assert len(live_server.host.commands_of(record_id)) == sent
    assert tenant.row(record_id).layout == stored
