"""A recording starts at the request that starts it, lasts the wall time to finish, at its frame rate."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import av
import pytest
from api.harness import Tenant
from support.decode import audio_samples, close, frame_near, media_duration, pixel, tone_share, video_frames
from support.server import PublishFn, download, finish, publish_stream

W, H = 320, 180
RED = (220, 30, 30)
BLUE = (30, 30, 220)


def timed_call(tenant: Tenant, path: str, **fields: Any) -> tuple[dict[str, Any], float, float]:
    """POST and return (reply, when it was sent, its round trip)."""
    sent = time.time()
    reply = tenant.call(path, **fields)
    assert reply["code"] == 0, reply
    return reply, sent, time.time() - sent


def check_start(path: Path, fps: int, colours: dict[int, tuple[int, int, int]], tone_hz: float) -> None:
    """Each source's colour at t = 0.3 s (at its tile's x), its tone in the first 0.3 s."""
    frames = video_frames(path)
    early = frame_near(frames, 0.3)
    for x, colour in colours.items():
        assert close(pixel(early, x, H // 2), colour), (x, pixel(early, x, H // 2), colour)
    samples, rate = audio_samples(path)
    assert tone_share(samples[: int(0.3 * rate)], rate, tone_hz) > 0.5, "no tone in the first 0.3 s"


def check_duration(path: Path, wall: float, fps: int, rtt: float) -> float:
    """The file lasts the wall time from the start request to finish, within a frame + a round trip
    (the video track, one picture per tick; the audio track as long, within an AAC frame)."""
    frames = video_frames(path)
    duration = frames[-1][0] + 1 / fps
    assert abs(duration - wall) <= 1 / fps + rtt + 0.02, (duration, wall, rtt)
    assert abs(media_duration(path) - duration) <= 2 * 1024 / 48000, (media_duration(path), duration)
    return duration


def test_auto_task_starts_at_init_with_what_was_published(
    tenant: Tenant, publish: PublishFn, tmp_path: Path
) -> None:
    pub, url = publish("red", color=RED, tone_hz=440.0)
    pub.wait_live(url)
    publish_stream(tenant, "auto", "u1", url, media_type=2)
    publish_stream(tenant, "auto", "u1", url, media_type=1)
    reply, started, rtt = timed_call(
        tenant, "/v1/record/init", group_id="auto", width=W, height=H, frame_rate=15, auto={}
    )
    assert rtt < 0.5, f"the first init after a server start took {rtt:.3f} s"
    record_id = reply["record_id"]
    time.sleep(4.0)
    stopped = time.time()
    figures = finish(tenant, record_id)
    (path, item), *_ = download(tenant, record_id, tmp_path / "out")
    duration = check_duration(path, stopped - started, 15, rtt)
    check_start(path, 15, {W // 2: RED}, 440.0)
    assert figures["media_duration"] == round(duration)
    assert abs(json.loads(item["extent"])["duration"] - duration) <= 1 / 15 + 0.03, (item, duration)


@pytest.mark.parametrize("pause_s", [1.5, 0.0], ids=["layout-later", "layout-at-once"])
def test_manual_task_starts_at_its_first_layout(
    tenant: Tenant, publish: PublishFn, tmp_path: Path, pause_s: float
) -> None:
    red, red_url = publish("red", color=RED, tone_hz=440.0)
    blue, blue_url = publish("blue", color=BLUE, tone_hz=880.0)
    red.wait_live(red_url)
    blue.wait_live(blue_url)
    publish_stream(tenant, "man", "a", red_url, media_type=2)
    publish_stream(tenant, "man", "a", red_url, media_type=1)
    publish_stream(tenant, "man", "b", blue_url, media_type=2)
    reply, _, _ = timed_call(tenant, "/v1/record/init", group_id="man", width=W, height=H, frame_rate=15)
    record_id = reply["record_id"]
    time.sleep(pause_s)
    tiles = [
        {"user_id": "a", "media_type": 2, "media_id": "0", "x": 0, "y": 0, "w": W // 2, "h": H},
        {"user_id": "b", "media_type": 2, "media_id": "0", "x": W // 2, "y": 0, "w": W // 2, "h": H},
    ]
    audio = [{"user_id": "a", "media_type": 1, "media_id": "0"}]
    _, started, rtt = timed_call(
        tenant, "/v1/record/set/layout", record_id=record_id, video_list=tiles, audio_list=audio
    )
    time.sleep(4.0)
    stopped = time.time()
    figures = finish(tenant, record_id)
    (path, _), *_ = download(tenant, record_id, tmp_path / "out")
    duration = check_duration(path, stopped - started, 15, rtt)
    check_start(path, 15, {W // 4: RED, 3 * W // 4: BLUE}, 440.0)
    assert figures["media_duration"] == round(duration)


@pytest.mark.parametrize("fps", [30, 15])
def test_a_still_source_gives_the_asked_frame_rate(
    tenant: Tenant, publish: PublishFn, tmp_path: Path, fps: int
) -> None:
    pub, url = publish("still", color=BLUE, fps=5)  # a still picture, five pictures a second
    pub.wait_live(url)
    publish_stream(tenant, f"still{fps}", "u1", url, media_type=2)
    reply, _, _ = timed_call(
        tenant, "/v1/record/init", group_id=f"still{fps}", width=W, height=H, frame_rate=fps, auto={}
    )
    time.sleep(3.0)
    finish(tenant, reply["record_id"])
    (path, _), *_ = download(tenant, reply["record_id"], tmp_path / "out")
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        frames = sum(1 for _ in c.decode(stream))
        average = float(stream.average_rate or 0)
    duration = media_duration(path)
    assert abs(average - fps) <= 0.01 * fps, average  # what ffprobe reports as avg_frame_rate
    assert abs(frames / duration - fps) <= 0.01 * fps + 1 / duration, (frames, duration)
