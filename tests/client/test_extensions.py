"""The client's calls of cloudrec's extensions and the vendor's later calls, against the real server."""

from __future__ import annotations

import io
import time

import pytest
from api.harness import Tenant
from PIL import Image

from cloudrec.client import CannotSuspend, Client, ParamError, VideoItem


def test_snapshot_task_info_and_overlay(client: Client, tenant: Tenant) -> None:
    record_id = client.init("ext", width=320, height=180, frame_rate=15).record_id
    with pytest.raises(CannotSuspend):  # initialised, not recording: no picture
        client.snapshot(record_id)
    tile = VideoItem(user_id="nobody", media_id="0", media_type=2, x=0, y=0, w=160, h=180)
    client.set_layout(record_id, video_list=[tile])
    deadline = time.monotonic() + 15
    while True:  # the recording composes the placeholder from its first layout on
        try:
            picture = client.snapshot(record_id, width=160)
            break
        except CannotSuspend:
            assert time.monotonic() < deadline, "no snapshot"
            time.sleep(0.2)
    assert Image.open(io.BytesIO(picture.jpeg)).size == (160, 90)
    assert picture.at > 0 and [(t.user_id, t.x, t.w) for t in picture.tiles] == [("nobody", 0, 160)]
    with pytest.raises(ParamError, match="width"):
        client.snapshot(record_id, width=4000)

    overlay = [{"type": 1, "content": "课堂", "x": 10, "y": 20, "color": "#ff0000", "transparency": 50}]
    assert client.set_output_overlay(record_id, overlay).record_id == record_id
    info = client.task_info(record_id).task
    assert info.record_id == record_id and info.width == 320 and info.status == 2
    assert [(c.content, c.x, c.y) for c in info.subtitle_list] == [("课堂", 10, 20)]
    assert [v["user_id"] for v in info.video_list] == ["nobody"]
    with pytest.raises(ParamError, match="size"):
        client.set_output_overlay(record_id, [{"type": 1, "content": "x", "size": 500}])


def test_app_list_and_server_address(client: Client, tenant: Tenant) -> None:
    apps = client.app_list()
    assert apps.total_num == 1 and [a.app_id for a in apps.app_list] == [tenant.app_id]
    assert client.server_address().result == tenant.server.settings.base_url
    with pytest.raises(ParamError, match="appType"):
        client.server_address(app_type=7)
