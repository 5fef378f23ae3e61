"""Live snapshots and segment posters end to end: publishers → NMS → cloudrec → JPEG, decoded."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from api.harness import Tenant
from numpy.typing import NDArray
from PIL import Image
from support.decode import RGB, close, pixel, video_frames
from support.server import PublishFn, download, publish_stream

from e2e.test_manual_layout import BLUE, GREEN, RED, YELLOW, audio, record_manual, tile

W, H = 320, 180
QUADS = [(0, 0), (160, 0), (0, 90), (160, 90)]
COLOURS = {"u1": RED, "u2": GREEN, "u3": BLUE, "u4": YELLOW}


def decode_jpeg(data: bytes) -> NDArray[np.uint8]:
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def snapshot(tenant: Tenant, record_id: str, **params: Any) -> httpx.Response:
    r = tenant.client.get(
        "/v1/record/snapshot", params={"app_id": tenant.app_id, "record_id": record_id, **params}
    )
    assert r.status_code == 200, r.text
    return r


def quad_colours(picture: NDArray[np.uint8], scale: float = 1.0) -> list[RGB]:
    return [pixel(picture, int((x + 80) * scale), int((y + 45) * scale)) for x, y in QUADS]


def shows(picture: NDArray[np.uint8], users: list[str], scale: float = 1.0) -> bool:
    got = quad_colours(picture, scale)
    return all(close(g, COLOURS[u]) for g, u in zip(got, users, strict=True))


def start_2x2(tenant: Tenant, publish: PublishFn, group: str) -> str:
    for user, colour in COLOURS.items():
        pub, url = publish(user, color=colour, tone_hz=None)
        publish_stream(tenant, group, user, url, media_type=2)
        pub.wait_live(url)
    record_id = record_manual(tenant, group, file_duration=15)  # 3 s segments
    layout = [tile(u, x, y, 160, 90) for u, (x, y) in zip(COLOURS, QUADS, strict=True)]
    reply = tenant.call("/v1/record/set/layout", record_id=record_id, video_list=layout, audio_list=[])
    assert reply["code"] == 0, reply
    return record_id


def wait_showing(tenant: Tenant, record_id: str, users: list[str], timeout: float) -> float:
    """Seconds until a snapshot shows `users` in the four quadrants."""
    t0 = time.monotonic()
    while True:
        r = snapshot(tenant, record_id)
        if r.headers["content-type"] == "image/jpeg" and shows(decode_jpeg(r.content), users):
            return time.monotonic() - t0
        assert time.monotonic() - t0 < timeout, (users, r.headers.get("content-type"), r.text[:200])
        time.sleep(0.1)


def test_snapshot_shows_each_tile_follows_the_layout_and_posters_show_the_sources(
    tenant: Tenant, publish: PublishFn, tmp_path: Path
) -> None:
    record_id = start_2x2(tenant, publish, "snap")
    wait_showing(tenant, record_id, list(COLOURS), timeout=10)

    r = snapshot(tenant, record_id)
    assert r.headers["content-type"] == "image/jpeg"
    assert r.headers["cache-control"] == "no-store"
    picture = decode_jpeg(r.content)
    assert picture.shape == (H, W, 3)  # the canvas's size
    assert time.time() - float(r.headers["x-snapshot-time"]) <= 1.5
    tiles = json.loads(r.headers["x-snapshot-tiles"])
    assert tiles == [
        {"user_id": u, "x": x, "y": y, "w": 160, "h": 90} for u, (x, y) in zip(COLOURS, QUADS, strict=True)
    ]

    small = snapshot(tenant, record_id, width=160)
    small_picture = decode_jpeg(small.content)
    assert small_picture.shape == (90, 160, 3)  # aspect kept
    assert shows(small_picture, list(COLOURS), scale=0.5)

    # a layout change shows in the snapshot within 1.5 s of set/layout's reply
    swapped = list(reversed(COLOURS))
    layout = [tile(u, x, y, 160, 90) for u, (x, y) in zip(swapped, QUADS, strict=True)]
    reply = tenant.call("/v1/record/set/layout", record_id=record_id, video_list=layout, audio_list=[])
    assert reply["code"] == 0, reply
    assert wait_showing(tenant, record_id, swapped, timeout=1.5) <= 1.5
    time.sleep(3.5)  # more than a segment (3 s): at least two files, the last one of the second layout

    reply = tenant.call("/v1/record/finish", record_id=record_id)
    assert reply["code"] == 0, reply
    tenant.wait_status(record_id, 6, timeout=30)
    files = download(tenant, record_id, tmp_path / "out")
    assert len(files) >= 2, [p.name for p, _ in files]
    for path, item in files:
        extent = json.loads(item["extent"])
        poster = httpx.get(extent["poster"], timeout=30)  # signed like the file
        assert poster.status_code == 200, (extent["poster"], poster.status_code)
        assert poster.headers["content-type"] == "image/jpeg"
        picture = decode_jpeg(poster.content)
        assert picture.shape == (H, W, 3)
        # the poster is the file's middle picture: the same sources in the same tiles
        frames = video_frames(path)
        middle = min(frames, key=lambda f: abs(f[0] - extent["duration"] / 2))[1]
        expected = quad_colours(middle)
        assert any(shows(middle, users) for users in (list(COLOURS), swapped)), (path.name, expected)
        got = quad_colours(picture)
        assert all(close(g, e) for g, e in zip(got, expected, strict=True)), (path.name, got, expected)
        # a tampered signature is refused
        bad = httpx.get(extent["poster"].replace("sig=", "sig=0"), timeout=30)
        assert bad.status_code == 403

    # the task is no longer recording: the contract's JSON error
    r = snapshot(tenant, record_id)
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["code"] == 6050030039, r.json()

    # deleting the files deletes the posters too
    poster_url = json.loads(files[0][1]["extent"])["poster"]
    reply = tenant.call("/v1/record/file", record_list=[record_id], mode=2)
    assert reply["code"] == 0, reply
    assert httpx.get(poster_url, timeout=30).status_code == 404


def test_snapshot_of_another_developers_task_is_refused(tenant: Tenant, publish: PublishFn) -> None:
    pub, url = publish("one", color=RED, tone_hz=None)
    publish_stream(tenant, "tenancy", "one", url, media_type=2)
    pub.wait_live(url)
    record_id = record_manual(tenant, "tenancy")
    reply = tenant.call(
        "/v1/record/set/layout",
        record_id=record_id,
        video_list=[tile("one", 0, 0, W, H)],
        audio_list=[audio("one")],
    )
    assert reply["code"] == 0, reply
    deadline = time.monotonic() + 10
    while (r := snapshot(tenant, record_id)).headers["content-type"] != "image/jpeg":
        # until the source opened, the recorder says it has no picture yet
        assert r.json()["code"] == 6050030039 and "no picture yet" in r.json()["msg"], r.json()
        assert time.monotonic() < deadline, r.json()
        time.sleep(0.2)
    other = tenant.server.tenant()
    r = other.client.get("/v1/record/snapshot", params={"app_id": tenant.app_id, "record_id": record_id})
    assert r.status_code == 200
    assert r.json()["code"] == 6050030007, r.json()
    # nor through the other developer's own app
    r = other.client.get("/v1/record/snapshot", params={"app_id": other.app_id, "record_id": record_id})
    assert r.json()["code"] == 6050030001, r.json()
