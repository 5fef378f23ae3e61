"""Manual layouts end to end: publishers → NMS → cloudrec → signed URL → decoded pixels and tones."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from api.harness import Tenant
from support.decode import audio_samples, close, pixel, tone_share, video_frames
from support.server import PublishFn, download, publish_stream

RED, GREEN, BLUE, YELLOW = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)
W, H = 320, 180


def tile(user: str, x: int, y: int, w: int, h: int, crop_mode: int = 1) -> dict[str, Any]:
    return {
        "user_id": user,
        "media_id": "0",
        "media_type": 2,
        "x": x,
        "y": y,
        "w": w,
        "h": h,
        "crop_mode": crop_mode,
    }


def audio(user: str) -> dict[str, Any]:
    return {"user_id": user, "media_id": "0", "media_type": 1}


def record_manual(tenant: Tenant, group: str, **init: Any) -> str:
    reply = tenant.call("/v1/record/init", group_id=group, width=W, height=H, frame_rate=15, **init)
    assert reply["code"] == 0, reply
    record_id: str = reply["record_id"]
    assert tenant.task(record_id)["status"] == 1
    return record_id


def finish_and_download(tenant: Tenant, record_id: str, dest: Path) -> list[Path]:
    reply = tenant.call("/v1/record/finish", record_id=record_id)
    assert reply["code"] == 0, reply
    tenant.wait_status(record_id, 6, timeout=30)
    return [p for p, _ in download(tenant, record_id, dest)]


def test_2x2_layout_colours_audio_selection_and_layout_change(
    tenant: Tenant, publish: PublishFn, tmp_path: Path
) -> None:
    colours = {"u1": RED, "u2": GREEN, "u3": BLUE, "u4": YELLOW}
    tones = {"u1": 300.0, "u2": 500.0, "u3": 700.0, "u4": 900.0}
    for user, colour in colours.items():
        pub, url = publish(user, color=colour, tone_hz=tones[user])
        publish_stream(tenant, "g1", user, url, media_type=2)
        publish_stream(tenant, "g1", user, url, media_type=1)
        pub.wait_live(url)

    record_id = record_manual(tenant, "g1", file_name="class/../1")
    quads = [(0, 0), (160, 0), (0, 90), (160, 90)]
    first = [tile(u, x, y, 160, 90) for u, (x, y) in zip(colours, quads, strict=True)]
    reply = tenant.call(
        "/v1/record/set/layout", record_id=record_id, video_list=first, audio_list=[audio("u1"), audio("u3")]
    )
    assert reply["code"] == 0, reply
    assert tenant.task(record_id)["status"] == 2
    time.sleep(3.0)
    # Swap: u4 top-left, u3 top-right, u2 bottom-left, u1 bottom-right; now only u2's audio.
    second = [tile(u, x, y, 160, 90) for u, (x, y) in zip(reversed(colours), quads, strict=True)]
    reply = tenant.call(
        "/v1/record/set/layout", record_id=record_id, video_list=second, audio_list=[audio("u2")]
    )
    assert reply["code"] == 0, reply
    time.sleep(3.0)

    files = finish_and_download(tenant, record_id, tmp_path / "out")
    assert files, "no file recorded"
    names = [f.name for f in files]
    assert names == sorted(names)
    for i, name in enumerate(names, start=1):
        assert re.fullmatch(rf"class[A-Za-z0-9._-]*1_{i:04d}\.mp4", name), name
    frames = [f for path in files for f in video_frames(path)]
    # segments are contiguous: times increase over the whole recording
    duration = frames[-1][0]
    assert duration > 4.5, duration

    def colours_at(frame: Any) -> list[tuple[int, int, int]]:
        return [pixel(frame, x + 80, y + 45) for x, y in quads]

    def layout_of(frame: Any) -> str:
        got = colours_at(frame)
        if all(close(g, c) for g, c in zip(got, colours.values(), strict=True)):
            return "1"
        if all(close(g, c) for g, c in zip(got, reversed(colours.values()), strict=True)):
            return "2"
        return "?"

    # the recording starts with the first source and the others join within a moment; from then on the
    # first layout, then the second to the end, nothing else in between (however long start-up took)
    shown = "".join(layout_of(f) for t, f in frames if t > 1.5)
    assert re.fullmatch(r"1{10,}2{10,}", shown), shown

    samples, rate = audio_samples(files[0])
    first_part = samples[int(0.5 * rate) : int(2.0 * rate)]
    for user, present in (("u1", True), ("u3", True), ("u2", False), ("u4", False)):
        share = tone_share(first_part, rate, tones[user])
        assert (share > 0.15) if present else (share < 0.02), (user, share)
    all_samples = [audio_samples(p) for p in files]
    last, rate = all_samples[-1]
    tail = last[-int(1.0 * rate) :]
    assert tone_share(tail, rate, tones["u2"]) > 0.5
    assert tone_share(tail, rate, tones["u1"]) < 0.02


def test_crop_modes_and_picture_in_picture(tenant: Tenant, publish: PublishFn, tmp_path: Path) -> None:
    # A 4:3 source (160x120) in 16:9 tiles (128x72): fit (3) pads left and right with black bars,
    # fill (2) and stretch (1) cover the whole tile.
    pub, url = publish("src", color=RED, tone_hz=None)
    pub2, url2 = publish("pip", color=BLUE, tone_hz=None)
    publish_stream(tenant, "g2", "a", url, media_type=2)
    publish_stream(tenant, "g2", "b", url2, media_type=2)
    pub.wait_live(url)
    pub2.wait_live(url2)
    record_id = record_manual(tenant, "g2")
    layout = [
        tile("a", 0, 0, 128, 72, crop_mode=1),
        tile("a", 160, 0, 128, 72, crop_mode=2),
        tile("a", 0, 90, 128, 72, crop_mode=3),
        tile("a", 160, 90, 160, 90, crop_mode=1),  # big tile ...
        tile("b", 240, 135, 64, 36, crop_mode=1),  # ... with a PiP tile drawn over it
        tile("a", 300, 170, 100, 100, crop_mode=1),  # clipped at the canvas edge
    ]
    reply = tenant.call("/v1/record/set/layout", record_id=record_id, video_list=layout, audio_list=[])
    assert reply["code"] == 0, reply
    time.sleep(2.5)
    files = finish_and_download(tenant, record_id, tmp_path / "out")
    frames = video_frames(files[0])
    frame = frames[-3][1]
    assert frame.shape == (H, W, 3)
    # stretch: full tile red, edges included
    for x, y in ((4, 4), (123, 67), (64, 36)):
        assert close(pixel(frame, x, y, 1), RED), ("stretch", x, y, pixel(frame, x, y, 1))
    # fill: full tile red, no bars
    for x, y in ((164, 4), (283, 67), (224, 36)):
        assert close(pixel(frame, x, y, 1), RED), ("fill", x, y, pixel(frame, x, y, 1))
    # fit: 72 high → 96 wide centred in 128: bars of 16 px left and right
    assert close(pixel(frame, 64, 126), RED)
    assert close(pixel(frame, 4, 126, 1), (0, 0, 0)), pixel(frame, 4, 126, 1)
    assert close(pixel(frame, 123, 126, 1), (0, 0, 0)), pixel(frame, 123, 126, 1)
    assert close(pixel(frame, 20, 126, 1), RED), pixel(frame, 20, 126, 1)
    # PiP: blue on top of the red tile; the red tile around it
    assert close(pixel(frame, 272, 153), BLUE), pixel(frame, 272, 153)
    assert close(pixel(frame, 180, 110), RED)
    # the gap between tiles stays black background
    assert close(pixel(frame, 145, 80), (0, 0, 0))
