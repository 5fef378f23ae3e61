"""Segment files with a variable frame rate: repeats held back, timing and keyframes kept, pictures right."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import av
import numpy as np
import pytest

from cloudrec.media.probe import file_md5
from cloudrec.media.segmenter import MIN_FRAME_RATE, OutputFormat, Segmenter
from cloudrec.recorder.spec import FileType, SegmentInfo
from media.media_helpers import BLUE, RED, near, pixel

FPS = 30
SAMPLES_PER_TICK = 48_000 // FPS


def picture(rgb: tuple[int, int, int]) -> av.VideoFrame:
    image = np.empty((180, 320, 3), np.uint8)
    image[:] = rgb
    return av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")


def write(tmp_path: Path, vfr: bool, pictures: list[av.VideoFrame], segment_ticks: int) -> list[SegmentInfo]:
    """Write one tick per picture; a picture that is the same object as the one before is a repeat."""
    fmt = OutputFormat(FileType.MP4, 320, 180, FPS, preset="ultrafast", variable_frame_rate=vfr)
    segmenter = Segmenter(fmt, str(tmp_path), "v", segment_ticks)
    silence = np.zeros((SAMPLES_PER_TICK, 2), np.int16)
    for tick, frame in enumerate(pictures):
        segmenter.write(tick, frame, silence, repeat=tick > 0 and frame is pictures[tick - 1])
    closed: list[SegmentInfo] = []
    segmenter.close(closed.append)
    for info in closed:  # hashed while written: the digest and size are the file's
        assert (info.md5, info.size) == (file_md5(info.path), os.path.getsize(info.path))
    return closed


def packets(path: str) -> list[tuple[int, int, bool]]:
    """(pts, duration, keyframe) of the video packets, in whole ticks (the muxer delays all but the
    first picture by the AAC encoder's priming, 21 ms, less than a tick)."""
    with av.open(path) as c:
        stream = c.streams.video[0]
        assert stream.time_base is not None
        scale = stream.time_base * FPS
        got = [(p.pts or 0, p.duration or 0, p.is_keyframe) for p in c.demux(stream) if p.size]
    return [(int(pts * scale), round(duration * scale), key) for pts, duration, key in got]


def decoded(path: str) -> list[tuple[float, np.ndarray]]:
    with av.open(path) as c:
        return [(float(f.time or 0), f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]


def audio_seconds(path: str) -> float:
    with av.open(path) as c:
        return sum(f.samples for f in c.decode(audio=0)) / 48_000


def test_repeats_are_held_back_but_the_timeline_is_whole(tmp_path: Path) -> None:
    red, blue = picture(RED), picture(BLUE)
    # 2 s of one red picture, 1 s of a new blue picture every tick, 1.5 s of one blue picture
    blues = [picture(BLUE) for _ in range(FPS)]
    ticks = [red] * (2 * FPS) + blues + [blue] * (FPS + FPS // 2)
    (info,) = write(tmp_path, True, ticks, 10_000)
    got = packets(info.path)
    hold = FPS // MIN_FRAME_RATE
    assert hold == 2
    pts = [p[0] for p in got]
    # still pictures: every `hold` ticks; changing ones: every tick; and the last tick always
    assert pts[: 2 * FPS // hold] == list(range(0, 2 * FPS, hold))
    assert pts[2 * FPS // hold : 2 * FPS // hold + FPS] == list(range(2 * FPS, 3 * FPS))
    assert pts[-1] == len(ticks) - 1
    assert len(got) < 0.7 * len(ticks)
    # no gap, no overlap: each packet lasts until the next one, the last one a tick
    for (a, da, _), (b, _, _) in itertools.pairwise(got[1:]):  # the first one lasts 21 ms longer
        assert a + da == b
    assert got[-1][1] == 1
    # keyframes by media time (every 2 s), whatever the number of frames between them
    assert [p for p, _, key in got if key] == [0, 2 * FPS, 4 * FPS]
    # the pictures, by decoding, at their times; audio as long as the video
    frames = decoded(info.path)
    assert near(pixel(frames[0][1], 160, 90), RED) and near(pixel(frames[-1][1], 160, 90), BLUE)
    assert frames[-1][0] - frames[0][0] == pytest.approx((len(ticks) - 1) / FPS, abs=0.025)
    assert info.duration == pytest.approx(len(ticks) / FPS)
    assert audio_seconds(info.path) == pytest.approx(len(ticks) / FPS, abs=0.03)


def test_constant_frame_rate_encodes_every_tick(tmp_path: Path) -> None:
    red = picture(RED)
    (info,) = write(tmp_path, False, [red] * FPS, 10_000)
    assert [p[0] for p in packets(info.path)] == list(range(FPS))


def test_mp3_segments_are_hashed_while_written(tmp_path: Path) -> None:
    fmt = OutputFormat(FileType.MP3, 0, 0, FPS)
    segmenter = Segmenter(fmt, str(tmp_path), "a", 2 * FPS)
    t = np.arange(SAMPLES_PER_TICK * 3 * FPS) / 48_000
    tone = (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    for tick in range(3 * FPS):
        chunk = tone[tick * SAMPLES_PER_TICK : (tick + 1) * SAMPLES_PER_TICK]
        segmenter.write(tick, None, np.stack([chunk, chunk], axis=1))
    closed: list[SegmentInfo] = []
    segmenter.close(closed.append)
    assert [i.name for i in closed] == ["a_0001.mp3", "a_0002.mp3"]
    for info, seconds in zip(closed, (2.0, 1.0), strict=True):
        assert (info.md5, info.size) == (file_md5(info.path), os.path.getsize(info.path))
        assert audio_seconds(info.path) == pytest.approx(seconds, abs=0.06)


def test_each_segment_ends_with_its_held_picture(tmp_path: Path) -> None:
    """A held repeat is encoded when its segment closes, so every file lasts to its end."""
    red, blue = picture(RED), picture(BLUE)
    ticks = [red] * (FPS + 1) + [blue] * (FPS + 5)  # segments of 1 s: red, red then blue, blue
    infos = write(tmp_path, True, ticks, FPS)
    assert [i.name for i in infos] == ["v_0001.mp4", "v_0002.mp4", "v_0003.mp4"]
    for info in infos:
        got = packets(info.path)
        ticks_in_file = round(info.duration * FPS)
        assert got[0] == (0, got[0][1], True)
        assert got[-1][0] + got[-1][1] == ticks_in_file, (info.name, got)
    second = decoded(infos[1].path)
    assert near(pixel(second[0][1], 160, 90), RED) and near(pixel(second[-1][1], 160, 90), BLUE)
