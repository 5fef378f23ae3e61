"""`cloudrec.client.Client` over the whole contract flow, against the real server."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from api.harness import RECORD_ID, Tenant

from client.conftest import client_of
from cloudrec.client import (
    AudioItem,
    AutoRequest,
    AutoTaskExists,
    AutoTaskNoLayout,
    CannotSuspend,
    Client,
    FileReadError,
    MediaType,
    ParamError,
    SubtitleItem,
    TaskItem,
    TaskStatus,
    TaskSuspended,
    VideoItem,
    extent,
)


def wait_status(client: Client, record_id: str, status: int, timeout: float = 30.0) -> TaskItem:
    deadline = time.monotonic() + timeout
    while True:
        (task,) = client.task_list(record_id=record_id).record_list
        if task.status == status:
            return task
        assert time.monotonic() < deadline, f"{record_id} stayed in status {task.status}"
        time.sleep(0.05)


def test_manual_task_from_init_to_delete(client: Client, tenant: Tenant) -> None:
    reply = client.init("room1", file_name="lesson", width=640, height=360, frame_rate=15, seq="s-1")
    assert RECORD_ID.fullmatch(reply.record_id) and reply.id == 8194 and reply.seq == "s-1"
    record_id = reply.record_id
    assert wait_status(client, record_id, TaskStatus.INIT).paused is False

    video: list[VideoItem | dict[str, Any]] = [
        VideoItem(user_id="alice", media_id="0", media_type=2, x=0, y=0, w=320, h=180, crop_mode=2),
        {"user_id": "bob", "media_id": 1, "media_type": 0, "x": 320, "w": 320, "h": 180},
    ]
    layout = client.set_layout(
        record_id, video_list=video, audio_list=[AudioItem(user_id="alice", media_id="0")]
    )
    assert layout.record_id == record_id and layout.code == 0
    stored = tenant.row(record_id).layout
    assert stored is not None
    assert [(t["user_id"], t["media_type"], t["x"], t["w"], t["crop_mode"]) for t in stored["video"]] == [
        ("alice", 2, 0, 320, 2),
        ("bob", 0, 320, 320, 1),  # what was not given took the contract's default
    ]
    assert stored["audio"] == [{"user_id": "alice", "media_id": "0", "media_type": 1}]
    assert wait_status(client, record_id, TaskStatus.RECORDING).start_time is not None

    client.set_subtitle(record_id, [SubtitleItem(content="第一课", color="#ffcc00", x=10, y=20)])
    assert tenant.row(record_id).captions == [
        {"content": "第一课", "color": "#FFCC00", "x": 10, "y": 20, "size": 24}
    ]

    assert client.suspend(record_id).record_id == record_id
    assert client.task_list(record_id=record_id).record_list[0].paused is True
    with pytest.raises(CannotSuspend) as cannot:
        client.suspend(record_id)
    assert cannot.value.code == 6050030039 and record_id in cannot.value.msg
    with pytest.raises(TaskSuspended) as suspended:
        client.set_layout(record_id)
    assert suspended.value.code == 6050030033
    client.resume(record_id)
    assert client.task_list(record_id=record_id).record_list[0].paused is False
    with pytest.raises(ParamError, match="not suspended"):
        client.resume(record_id)

    finished = client.finish(record_id)
    assert finished.record_id == record_id
    assert finished.media_duration >= 0 and finished.record_duration >= 0 and finished.flow >= 0
    assert client.finish(record_id) == finished  # idempotent: the same figures
    wait_status(client, record_id, TaskStatus.DONE)
    contents = tenant.add_segments(record_id, 1)  # a second file after the one the recorder wrote

    files = client.download_urls(record_id)
    assert files.total_num == 2 and files.page == 1
    assert [f.file_name for f in files.data_list] == ["lesson_0001.mp4", "lesson_0002.mp4"]
    for item in files.data_list:
        assert item.md5 == hashlib.md5(client.fetch(item.url)).hexdigest()
    assert client.fetch(files.data_list[1].url) == contents[0]
    assert [extent(f).index for f in files.data_list] == [1, 2]
    assert extent(files.data_list[1]).size == len(contents[0])

    assert client.delete_files([record_id]).msg == "ok"  # mode 2: the files only
    assert client.task_list(record_id=record_id).total_num == 1
    with pytest.raises(FileReadError):
        client.fetch(files.data_list[0].url)  # the link outlives nothing: the file is gone
    client.delete_files([record_id], mode=1)
    assert client.task_list(record_id=record_id).total_num == 0


def test_automatic_task(client: Client, tenant: Tenant) -> None:
    group = "auto-room"
    record_id = client.init(group, auto=AutoRequest(type=2, user_id="teacher", media_count=4)).record_id
    spec = tenant.server.host.spec_of(record_id)
    assert spec.auto is not None
    assert (spec.auto.type, spec.auto.user_id, spec.auto.media_count) == (2, "teacher", 4)
    assert spec.auto.crop_mode == 2  # not given: the contract's default
    assert wait_status(client, record_id, TaskStatus.RECORDING).record_mode == 0
    with pytest.raises(AutoTaskExists) as exists:
        client.init(group, auto={})
    assert exists.value.code == 6050030038
    with pytest.raises(AutoTaskNoLayout):
        client.set_layout(record_id, video_list=[VideoItem(user_id="a", media_id="0", media_type=2)])
    assert client.init(group).record_id != record_id  # a manual task in the same group is fine
    client.finish(record_id)
    wait_status(client, record_id, TaskStatus.DONE)


def test_task_list_filters_and_pages(client: Client, tenant: Tenant) -> None:
    started = [client.init("list-a", auto={}).record_id, client.init("list-b", auto={}).record_id]
    ids = [*started, client.init("list-a").record_id]  # a manual task: no start_time until its layout
    client.finish(ids[1])
    everything = client.task_list()
    assert everything.total_num == 3
    assert [t.record_id for t in everything.record_list] == ids[::-1]  # newest first
    first, second = client.task_list(page_size=2), client.task_list(page_size=2, page=2)
    assert [t.record_id for t in first.record_list + second.record_list] == ids[::-1]
    assert first.total_num == second.total_num == 3
    assert {t.record_id for t in client.task_list(group_id="list-a").record_list} == {ids[0], ids[2]}
    assert [t.record_id for t in client.task_list(status=1).record_list] == [ids[2]]
    now = tenant.server.clock.time()
    for since in (int(now) - 60, datetime.fromtimestamp(now - 60, UTC), "2000-01-01 00:00:00"):
        assert [t.record_id for t in client.task_list(start_time=since).record_list] == started[::-1], since
    assert client.task_list(start_time=int(now) + 3600).total_num == 0


def test_group_streams(client: Client) -> None:
    url = "rtmp://127.0.0.1/live/alice"
    assert client.publish_stream("streams", "alice", MediaType.CAMERA, "0", url).code == 0
    client.publish_stream("streams", "bob", MediaType.AUDIO, "0", "rtmp://127.0.0.1/live/bob")
    listed = client.stream_list("streams")
    assert listed.total_num == 2
    assert [(s.user_id, s.media_type, s.url) for s in listed.stream_list] == [
        ("alice", 2, url),
        ("bob", 1, "rtmp://127.0.0.1/live/bob"),
    ]
    client.unpublish_stream("streams", "alice", MediaType.CAMERA, "0")
    assert [s.user_id for s in client.stream_list("streams").stream_list] == ["bob"]
    with pytest.raises(ParamError, match="url"):
        client.publish_stream("streams", "eve", MediaType.CAMERA, "0", "file:///etc/passwd")


def test_callback_url_and_secret(client: Client) -> None:
    first = client.set_callback("https://example.invalid/hook")
    assert first.url == "https://example.invalid/hook" and first.secret and first.secret.startswith("whsec_")
    assert client.set_callback("https://example.invalid/other").secret is None  # made only once
    rotated = client.set_callback("https://example.invalid/other", rotate_secret=True)
    assert rotated.secret and rotated.secret != first.secret
    assert client.set_callback("").url == ""
    with pytest.raises(ParamError, match="url"):
        client.set_callback("ftp://example.invalid/hook")


def test_the_app_of_a_call_overrides_the_client_default(tenant: Tenant) -> None:
    other_app = tenant.server.add_app(tenant.dev_id)
    with client_of(tenant, app_id=None) as client:
        with pytest.raises(ValueError, match="app_id"):
            client.task_list()
        record_id = client.init("room", app_id=other_app).record_id
        assert client.task_list(app_id=other_app).record_list[0].record_id == record_id
        assert client.task_list(app_id=tenant.app_id).total_num == 0
