"""The vendor's clients end to end, in both profiles: manual and automatic recordings made with the
vendor's requests (numeric ids, media_type 4, the group's whiteboard, company_id, set-output-overlay,
form bodies), through NMS, down to decoded pixels; the captions' place, colour, opacity and clock."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import numpy as np
import pytest
from api.harness import DatabaseFactory, LiveServer, Tenant, contract_json, start_server
from support.captions import shown_second
from support.decode import close, pixel, video_frames
from support.fsptoken import FspToken
from support.server import E2E_SETTINGS, PublishFn, download

from cloudrec.layout import main_and_subs
from cloudrec.media.captions import sprite
from cloudrec.recorder.spec import Caption

RED, GREEN, BLUE, YELLOW, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (255, 255, 255)
JSON_UTF8 = "application/json;charset=UTF-8"  # what the vendor's documentation says its clients send
FORM = "application/x-www-form-urlencoded"


@pytest.fixture(params=["default", "hst"])
def vendor(databases: DatabaseFactory, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Tenant]:
    """A developer with an app on a fresh real-time server of the profile."""
    live = start_server(
        tmp_path / "data", databases.new_url(), real_time=True, compat=request.param, **E2E_SETTINGS
    )
    try:
        yield vendor_tenant(live)
    finally:
        live.stop()


def vendor_tenant(live: LiveServer) -> Tenant:
    """A developer imported with its 16-character vendor secret, signed in with the vendor's own token
    (FspToken, from the published algorithm) in the header form its clients use."""
    secret = secrets.token_hex(8)
    dev_id, _ = live.add_developer(secret)
    app_id = live.add_app(dev_id)
    token = FspToken(dev_id, secret, group_id="null", user_id="null").build(int(time.time() * 1000))
    reply = httpx.get(live.base_url + "/access/token", headers={"Authorization": f"{dev_id}.{token}"}).json()
    assert reply["code"] == 0, reply
    access = reply["result"]["access_token"]
    client = httpx.Client(base_url=live.base_url, timeout=30, headers={"Authorization": access})
    tenant = Tenant(live, dev_id, secret, app_id, access, client)
    live.tenants.append(tenant)
    return tenant


def _hst(tenant: Tenant) -> bool:
    return tenant.server.settings.compat == "hst"


def send(tenant: Tenant, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST as the vendor's clients do: a JSON text with `Content-Type: application/json;charset=UTF-8`."""
    r = tenant.client.post(
        path, content=json.dumps(body, ensure_ascii=False), headers={"Content-Type": JSON_UTF8}
    )
    assert r.status_code == 200, r.text
    return contract_json(r)


def announce(tenant: Tenant, group: str, user_id: Any, media_type: int, media_id: Any, url: str) -> None:
    body = {"app_id": tenant.app_id, "group_id": group, "user_id": user_id, "media_type": media_type}
    reply = send(tenant, "/v1/group/stream/publish", {**body, "media_id": media_id, "url": url})
    assert reply["code"] == 0, reply


def delete_by_form(tenant: Tenant, mode: int, record_id: str) -> None:
    form = urlencode([("mode", str(mode)), ("app_id", tenant.app_id), ("record_list", record_id)])
    r = tenant.client.post("/v1/record/file", content=form, headers={"Content-Type": FORM})
    assert contract_json(r) == {"code": 0, "msg": "ok"}


def finish_and_fetch(tenant: Tenant, record_id: str, dest: Path) -> tuple[list[tuple[float, Any]], list[Any]]:
    reply = send(tenant, "/v1/record/finish", {"app_id": tenant.app_id, "record_id": record_id})
    assert reply["code"] == 0 and reply["media_duration"] > 0, reply
    tenant.wait_status(record_id, 6, timeout=30)
    files = download(tenant, record_id, dest)
    frames: list[tuple[float, Any]] = []
    offset = 0.0
    for path, item in files:
        r = httpx.get(item["play_url"], headers={"Range": "bytes=0-7"})  # what a <video> element asks
        assert r.status_code == 206 and r.headers["content-type"] == "video/mp4", r.headers
        part = video_frames(path)
        frames += [(offset + t, f) for t, f in part]
        offset += part[-1][0] + 1 / 15 if part else 0.0
    return frames, [item for _, item in files]


def _block_centre(caption: Caption) -> tuple[int, int]:
    """The middle of a "█" caption's glyph on the canvas."""
    sp = sprite(caption.content, caption.color, caption.size)
    ys, xs = np.nonzero((sp.alpha[0] == 256) & ((sp.colour[0] >> 8) > 100))
    x0, y0 = (caption.x + sp.dx) & ~1, (caption.y + sp.dy) & ~1
    return x0 + int(xs.mean()), y0 + int(ys.mean())


# Canvas 480x270: user 1001 (red) top left, the group's whiteboard (green) top right, black below.
W, H = 480, 270
SOLID = Caption("█", "#FFFF00", 330, 150, 60)  # yellow (0xFFFF00) on the black background
HALF = Caption("█", "#FFFFFF", 60, 20, 60, opacity=50)  # white at 50 % on the red tile
CLOCK = Caption("", "#FFFFFF", 10, 220, 24, clock=True)  # the time, ticking, on the black background


def _overlays() -> list[dict[str, Any]]:
    return [
        {"type": 1, "content": SOLID.content, "x": SOLID.x, "y": SOLID.y, "color": 0xFFFF00, "size": 60},
        {
            "content": HALF.content,
            "x": HALF.x,
            "y": HALF.y,
            "color": "#ffffff",
            "size": 60,
            "transparency": 50,
        },
        {"type": 2, "x": CLOCK.x, "y": CLOCK.y, "color": 0xFFFFFF, "size": 24},
    ]


def test_manual_flow(vendor: Tenant, publish: PublishFn, tmp_path: Path) -> None:
    tenant, group = vendor, "class-1"
    teacher, url = publish("t", color=RED, tone_hz=500.0)
    board, board_url = publish("wb", color=GREEN, tone_hz=None, audio=False)
    announce(tenant, group, 1001, 2, 0, url)  # numeric user_id and media_id, as the vendor's examples
    announce(tenant, group, 1001, 1, 1, url)
    announce(tenant, group, "", 4, "whiteboard2", board_url)  # the group's whiteboard: no user
    teacher.wait_live(url)
    board.wait_live(board_url)

    init = {
        "app_id": tenant.app_id,
        "group_id": group,
        "file_name": "lesson",
        "file_type": 0,
        "file_duration": 15,
        "width": W,
        "height": H,
        "record_mode": 0,
        "frame_rate": 15,
        "timeout": 10,
        "company_id": "10086",
        "seq": "1",
    }
    reply = send(tenant, "/v1/record/init", init)
    assert reply["code"] == 0 and reply["seq"] == "1", reply
    record_id = reply["record_id"]
    layout = {
        "app_id": tenant.app_id,
        "record_id": record_id,
        "audio_list": [{"user_id": 1001, "media_id": 1, "media_type": 1}],
        "video_list": [
            {"user_id": 1001, "media_id": 0, "media_type": 2, "crop_mode": 1, "w": 240, "h": 135},
            {"user_id": "", "media_id": "whiteboard2", "media_type": 4, "x": 240, "w": 240, "h": 135},
        ],
    }
    assert send(tenant, "/v1/record/set/layout", layout)["code"] == 0
    time.sleep(1.5)
    overlay = {"app_id": tenant.app_id, "record_id": record_id, "subtitle_list": _overlays(), "logo_list": []}
    assert send(tenant, "/v1/record/set-output-overlay", overlay)["code"] == 0
    time.sleep(3.5)
    assert send(tenant, "/v1/record/suspend", {"app_id": tenant.app_id, "record_id": record_id})["code"] == 0
    paused = tenant.task(record_id)
    assert (paused["status"], paused["paused"]) == ((7, True) if _hst(tenant) else (2, True))
    assert send(tenant, "/v1/record/resume", {"app_id": tenant.app_id, "record_id": record_id})["code"] == 0
    again = send(tenant, "/v1/record/resume", {"app_id": tenant.app_id, "record_id": record_id})["code"]
    assert again == (605030040 if _hst(tenant) else 6050030003)
    time.sleep(1.0)
    started_at = tenant.task(record_id)["start_time"]
    frames, items = finish_and_fetch(tenant, record_id, tmp_path / "out")

    task = tenant.task(record_id)
    listed = {k: task[k] for k in ("file_name", "company_id", "width", "height", "auto", "status")}
    assert listed == {
        "file_name": "lesson",
        "company_id": "10086",
        "width": W,
        "height": H,
        "auto": 0,
        "status": 6,
    }
    assert task["record_time"] >= 4
    assert items[0]["file_name"] == "lesson_0001.mp4"

    # the tiles: the user's camera and the group's whiteboard where the layout put them
    last = frames[-5][1]
    assert close(pixel(last, 200, 100), RED) and close(pixel(last, 360, 100), GREEN)
    # the captions: none before the overlay call, then each at its place in its colour
    first = frames[3][1]
    solid_at, half_at = _block_centre(SOLID), _block_centre(HALF)
    assert close(pixel(first, *solid_at), (0, 0, 0)) and close(pixel(first, *half_at), RED)
    assert close(pixel(last, *solid_at), YELLOW), pixel(last, *solid_at)
    blended = pixel(last, *half_at)
    assert close(blended, (255, 128, 128), tol=30), blended  # half white, half the red picture
    assert not close(blended, WHITE, tol=60) and not close(blended, RED, tol=60)
    # the clock: the wall-clock time, a second later a second later
    start = int(datetime.strptime(started_at, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp())
    candidates = range(start - 2, int(time.time()) + 2)
    with_clock = [(t, f) for t, f in frames if t > frames[-1][0] - 4.0]
    a = with_clock[2]
    b = min(with_clock, key=lambda x: abs(x[0] - (a[0] + 1.0)))
    shown = [shown_second(f, CLOCK, candidates) for _, f in (a, b)]
    for _, err, runner_up in shown:
        assert err < 0.06 and err < runner_up / 2, shown
    assert 1 <= shown[1][0] - shown[0][0] <= 2, shown

    # the vendor's delete mode 3: the task record goes, the file stays downloadable by its link
    delete_by_form(tenant, 3, record_id)
    assert tenant.get("/v1/record/task/list", record_id=record_id)["total_num"] == 0
    assert httpx.get(items[0]["url"]).status_code == 200


def test_auto_flow(vendor: Tenant, publish: PublishFn, tmp_path: Path) -> None:
    tenant, group = vendor, "class-2"
    pubs = []
    for user, colour in ((2001, RED), (2002, BLUE)):
        pub, url = publish(f"u{user}", color=colour, tone_hz=400.0)
        announce(tenant, group, user, 2, 0, url)
        announce(tenant, group, str(user), 1, "1", url)  # a string this time: the same user
        pubs.append((pub, url))
    board, board_url = publish("wb", color=GREEN, tone_hz=None, audio=False)
    announce(tenant, group, "", 4, "whiteboard2", board_url)
    for pub, url in [*pubs, (board, board_url)]:
        pub.wait_live(url)
    init = {
        "app_id": tenant.app_id,
        "group_id": group,
        "file_type": 0,
        "width": 320,
        "height": 180,
        "frame_rate": 15,
        "timeout": 10,
        "company_id": "10086",
        "white_board": 1,
        "auto": {
            "type": 2,
            "user_id": 2001,
            "media_type": 2,
            "media_count": 9,
            "crop_mode": 1,
            "main_media_type": 4,
        },
    }
    reply = send(tenant, "/v1/record/init", init)
    assert reply["code"] == 0, reply
    record_id = reply["record_id"]
    task = tenant.task(record_id)
    assert (task["status"], task["auto"], task["company_id"]) == (2, 1, "10086")
    time.sleep(4.0)
    frames, _ = finish_and_fetch(tenant, record_id, tmp_path / "out")
    # main_media_type 4: the group's whiteboard fills the main tile; the main user and the other subs
    main, sub1, sub2 = main_and_subs(3, 320, 180)
    last = frames[-5][1]
    for rect, colour in ((main, GREEN), (sub1, RED), (sub2, BLUE)):
        assert close(pixel(last, rect.x + rect.w // 2, rect.y + rect.h // 2), colour), (rect, colour)
    delete_by_form(tenant, 1, record_id)
    assert tenant.get("/v1/record/task/list", record_id=record_id)["total_num"] == 0
