"""The watching extensions without media: snapshot errors, task info, the developer's apps."""

from __future__ import annotations

import time
from typing import Any

import pytest

from api.harness import LiveServer, Tenant, contract_json


def snapshot_code(tenant: Tenant, **params: str) -> dict[str, Any]:
    r = tenant.client.get("/v1/record/snapshot", params={"app_id": tenant.app_id, **params})
    assert r.status_code == 200, r.text
    return contract_json(r)


def test_snapshot_of_a_task_that_is_not_recording_is_the_contracts_error(tenant: Tenant) -> None:
    record_id = tenant.init(width=320, height=180)  # manual, no layout yet: status 1
    reply = snapshot_code(tenant, record_id=record_id)
    assert reply["code"] == 6050030039, reply
    assert record_id in str(reply["msg"]) and "status 1" in str(reply["msg"])
    done = tenant.finished(width=320, height=180)
    assert snapshot_code(tenant, record_id=done)["code"] == 6050030039


def test_snapshot_of_an_mp3_task_and_of_one_without_picture(tenant: Tenant) -> None:
    mp3 = tenant.start_manual(file_type=1)
    reply = snapshot_code(tenant, record_id=mp3)
    assert reply["code"] == 6050030039 and "MP3" in str(reply["msg"]), reply
    # recording (status 2) but nothing published: no picture was composed, answered within the wait
    silent = tenant.start_manual(width=320, height=180)
    t0 = time.monotonic()
    reply = snapshot_code(tenant, record_id=silent)
    assert reply["code"] == 6050030039 and "no picture" in str(reply["msg"]), reply
    assert time.monotonic() - t0 < 2  # the recorder says so at once: no wait for a picture


@pytest.mark.parametrize("width", ["0", "15", "-1", "abc", "1.5", "1921", "321"])
def test_snapshot_width_out_of_range(tenant: Tenant, width: str) -> None:
    record_id = tenant.start_manual(width=320, height=180)
    reply = snapshot_code(tenant, record_id=record_id, width=width)
    assert reply["code"] == 6050030003, reply
    assert "width" in str(reply["msg"]), reply


def test_snapshot_tenancy_and_missing_fields(tenant: Tenant, live_server: LiveServer) -> None:
    record_id = tenant.start_manual(width=320, height=180)
    other = live_server.tenant()
    r = other.client.get("/v1/record/snapshot", params={"app_id": tenant.app_id, "record_id": record_id})
    assert contract_json(r)["code"] == 6050030007
    assert snapshot_code(tenant, record_id="nosuchtask")["code"] == 6050030001
    assert snapshot_code(tenant)["code"] == 6050030003  # record_id missing
    with live_server.http() as anonymous:
        r = anonymous.get("/v1/record/snapshot", params={"app_id": tenant.app_id, "record_id": record_id})
    assert contract_json(r)["code"] == 6050030006


def test_task_info_has_the_settings_layout_and_captions(tenant: Tenant, live_server: LiveServer) -> None:
    record_id = tenant.init(width=640, height=360, frame_rate=15, file_name="lesson")
    video = [
        {
            "user_id": "u1",
            "media_id": "0",
            "media_type": 2,
            "x": 0,
            "y": 0,
            "w": 320,
            "h": 180,
            "crop_mode": 2,
        }
    ]
    audio = [{"user_id": "u1", "media_id": "0", "media_type": 1}]
    assert (
        tenant.call("/v1/record/set/layout", record_id=record_id, video_list=video, audio_list=audio)["code"]
        == 0
    )
    captions = [{"content": "课堂 1", "color": "#FF0000", "x": 10, "y": 20, "size": 30}]
    assert tenant.call("/v1/record/set/subtitle", record_id=record_id, subtitle_list=captions)["code"] == 0
    reply = tenant.get("/v1/record/task/info", record_id=record_id)
    assert reply["code"] == 0, reply
    task = reply["task"]
    assert (task["width"], task["height"], task["frame_rate"], task["file_name"]) == (640, 360, 15, "lesson")
    assert task["status"] == 2 and task["paused"] is False and task["auto"] is None
    assert task["video_list"] == video and task["audio_list"] == audio
    assert task["subtitle_list"] == captions
    auto = tenant.init(auto={"type": 2, "caption": 1})
    assert tenant.get("/v1/record/task/info", record_id=auto)["task"]["auto"]["type"] == 2
    assert tenant.get("/v1/record/task/info", record_id="nosuchtask")["code"] == 6050030001
    other = live_server.tenant()
    r = other.client.get("/v1/record/task/info", params={"app_id": tenant.app_id, "record_id": record_id})
    assert contract_json(r)["code"] == 6050030007


def test_app_list_has_the_developers_apps_only(tenant: Tenant, live_server: LiveServer) -> None:
    second = live_server.add_app(tenant.dev_id)
    live_server.tenant()  # another developer's app is not listed
    r = tenant.client.get("/v1/app/list")
    reply = contract_json(r)
    assert reply["code"] == 0, reply
    # oldest first, then by app_id (the test server's clock stands still: both have the same time)
    assert [a["app_id"] for a in reply["app_list"]] == sorted([tenant.app_id, second])
    assert reply["total_num"] == 2
    with live_server.http() as anonymous:
        assert contract_json(anonymous.get("/v1/app/list"))["code"] == 6050030006
        r = anonymous.get("/v1/app/list", headers={"Authorization": "0" * 32})
        assert contract_json(r)["code"] == 6050030007


def test_console_is_served_with_its_files_and_a_strict_policy(live_server: LiveServer) -> None:
    with live_server.http() as http:
        r = http.get("/console", follow_redirects=False)
        assert r.status_code == 307 and r.headers["location"] == "/console/"
        page = http.get("/console/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        csp = page.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "connect-src 'self'" in csp and "object-src 'none'" in csp
        for name in ("app.js", "api.js", "editor.js", "files.js", "i18n.js", "console.css"):
            assert f'"{name}"' in page.text
            asset = http.get(f"/console/{name}")
            assert asset.status_code == 200 and asset.content, name
        font = http.get("/console/fonts/cjk.otf", headers={"Range": "bytes=0-3"})
        assert font.status_code == 206 and font.content == b"OTTO"  # an OpenType (CFF) font
        assert contract_json(http.get("/console/nosuch.js"))["code"] == 6050030003
