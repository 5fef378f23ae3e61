"""init with record_mode 1 (per-stream): accepted, recording from init, its allow list, what it refuses."""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import pytest

from api.harness import LiveServer, Tenant
from cloudrec.recorder.spec import AudioRef, MediaType, SegmentInfo, VideoTile

INIT = "/v1/record/init"


@pytest.mark.parametrize("auto", [None, {}], ids=["manual", "auto"])
def test_per_stream_task_records_from_its_init(
    tenant: Tenant, live_server: LiveServer, auto: dict[str, Any] | None
) -> None:
    fields: dict[str, Any] = {"auto": auto} if auto is not None else {}
    reply = tenant.call(INIT, group_id="ps", record_mode="1", **fields)
    assert reply["code"] == 0, reply
    record_id = reply["record_id"]
    spec = live_server.host.spec_of(record_id)
    assert spec.record_mode == 1 and spec.layout is None  # no allow list: every stream
    assert spec.start_at is not None  # its timeline starts at the init request
    task = tenant.task(record_id)
    assert task["status"] == 2 and task["record_mode"] == 1, task


def test_allow_list_of_init_reaches_the_recorder(tenant: Tenant, live_server: LiveServer) -> None:
    reply = tenant.call(
        INIT,
        group_id="ps",
        record_mode=1,
        audio_list=[{"user_id": 7, "media_id": 0, "media_type": 1}],
        video_list=[
            {"user_id": "7", "media_id": "0", "media_type": 2},
            {"user_id": "t", "media_id": 1, "media_type": 0},
        ],
    )
    assert reply["code"] == 0, reply
    allow = live_server.host.spec_of(reply["record_id"]).layout
    assert allow is not None
    assert [(t.user_id, t.media_id, t.media_type) for t in allow.video] == [
        ("7", "0", MediaType.CAMERA),
        ("t", "1", MediaType.SCREEN),
    ]
    assert allow.audio == (AudioRef("7", "0", MediaType.AUDIO),)
    assert all(isinstance(t, VideoTile) for t in allow.video)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"video_list": [{"user_id": "a", "media_id": 0, "media_type": 1}]}, "video_list"),
        ({"audio_list": [{"user_id": "a", "media_id": 0, "media_type": 2}]}, "audio_list"),
        ({"audio_list": {"user_id": "a"}}, "audio_list"),
        ({"video_list": [{"media_id": 0, "media_type": 2}]}, "user_id"),
    ],
)
def test_bad_allow_list_is_refused(tenant: Tenant, fields: dict[str, Any], field: str) -> None:
    reply = tenant.call(INIT, group_id="ps", record_mode=1, **fields)
    assert reply["code"] == 6050030003, reply
    assert field in reply["msg"], reply


def test_a_composite_init_ignores_the_lists(tenant: Tenant, live_server: LiveServer) -> None:
    reply = tenant.call(INIT, group_id="mix", audio_list="not even a list", video_list=[{"x": -1}])
    assert reply["code"] == 0, reply
    spec = live_server.host.spec_of(reply["record_id"])
    assert spec.record_mode == 0 and spec.layout is None
    assert tenant.task(reply["record_id"])["status"] == 1  # a manual composite waits for its layout


def test_per_stream_task_takes_no_layout_and_no_captions(tenant: Tenant) -> None:
    record_id = tenant.call(INIT, group_id="ps", record_mode=1)["record_id"]
    tile = {"user_id": "a", "media_id": 0, "media_type": 2}
    reply = tenant.call("/v1/record/set/layout", record_id=record_id, video_list=[tile])
    assert reply["code"] == 6050030035 and "record_mode 1" in reply["msg"], reply
    caption = {"content": "hi", "color": "#FFFFFF", "x": 0, "y": 0}
    reply = tenant.call("/v1/record/set/subtitle", record_id=record_id, subtitle_list=[caption])
    assert reply["code"] == 6050030003 and "record_mode 1" in reply["msg"], reply
    assert tenant.task(record_id)["status"] == 2


def test_task_list_shows_record_mode(tenant: Tenant) -> None:
    per_stream = tenant.call(INIT, group_id="ps", record_mode=1)["record_id"]
    composite = tenant.call(INIT, group_id="ps")["record_id"]
    listed = {t["record_id"]: t["record_mode"] for t in tenant.get("/v1/record/task/list")["record_list"]}
    assert listed[per_stream] == 1 and listed[composite] == 0


def test_extent_names_the_stream_of_each_file(tenant: Tenant, live_server: LiveServer) -> None:
    record_id = tenant.call(INIT, group_id="ps", record_mode=1, file_name="lesson")["record_id"]
    assert tenant.call("/v1/record/finish", record_id=record_id)["code"] == 0
    tenant.wait_status(record_id, 6)
    work = live_server.settings.work_dir / record_id
    work.mkdir(parents=True, exist_ok=True)
    data = os.urandom(1500)
    path = work / "lesson_alice_2_0_0001.mp4"
    path.write_bytes(data)
    segment = SegmentInfo(
        index=1,
        name=path.name,
        path=str(path),
        size=len(data),
        md5=hashlib.md5(data).hexdigest(),
        duration=4.25,
        start_time=1_764_000_000.125,
        user_id="alice",
        media_type=2,
        media_id="0",
        start_offset=1.5,
    )
    tenant.store_segment(record_id, segment)
    (item,) = tenant.get("/v1/record/file/download/url", record_id=record_id)["data_list"]
    extent = json.loads(item["extent"])
    assert item["file_name"] == "lesson_alice_2_0_0001.mp4"
    assert extent["user_id"] == "alice" and extent["media_type"] == 2 and extent["media_id"] == "0"
    assert extent["start_offset"] == 1.5 and extent["start_timestamp"] == 1_764_000_000.125
    assert extent["index"] == 1 and extent["duration"] == 4.25


def test_a_composite_file_has_no_stream_fields(tenant: Tenant, live_server: LiveServer) -> None:
    record_id = tenant.finished(file_name="mix")
    tenant.add_segments(record_id, 1)  # a composite's segment, as its recorder reports it
    listed = tenant.get("/v1/record/file/download/url", record_id=record_id)["data_list"]
    assert listed, "no file listed"
    assert all("user_id" not in json.loads(i["extent"]) for i in listed)
