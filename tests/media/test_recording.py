"""End-to-end recordings: clips pulled over HTTP, recorded by run_recording, outputs decoded and checked."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pytest

from cloudrec.media import compositor as compositor_module
from cloudrec.media import pipeline as pipeline_module
from cloudrec.media import run_recording
from cloudrec.media.captions import Overlay
from cloudrec.media.segmenter import MIN_FRAME_RATE
from cloudrec.media.source import Source
from cloudrec.recorder.spec import (
    AudioRef,
    AutoSpec,
    Command,
    CropMode,
    Failed,
    FileType,
    Finish,
    Finished,
    Layout,
    MediaType,
    Progress,
    Resume,
    SegmentClosed,
    SetLayout,
    SetStreams,
    Started,
    Stats,
    StreamInfo,
    Suspend,
    VideoTile,
)
from media.media_helpers import (
    BLACK,
    BLUE,
    FLASH_PERIOD,
    GREEN,
    MAGENTA,
    PLACEHOLDER,
    RED,
    TONES,
    YELLOW,
    FakeClock,
    StreamServer,
    audio_mono,
    make_spec,
    media_duration,
    near,
    pixel,
    record,
    record_forever,
    silent_port,
    tone_level,
    video_frames,
)

FPS = 15
CAM = MediaType.CAMERA
AUD = MediaType.AUDIO


def cam(server: StreamServer, user: str, clip: str | None = None, seq: int = 0) -> StreamInfo:
    return StreamInfo(user, CAM, "0", server.url(f"{clip or user}.flv"), seq)


def mic(server: StreamServer, user: str, clip: str | None = None, seq: int = 0) -> StreamInfo:
    return StreamInfo(user, AUD, "0", server.url(f"{clip or user}.flv"), seq)


def tile(user: str, x: int, y: int, w: int, h: int, mode: CropMode = CropMode.STRETCH) -> VideoTile:
    return VideoTile(user, "0", CAM, x, y, w, h, mode)


@pytest.fixture
def silent_url() -> Iterator[str]:
    sock, url = silent_port()
    yield url
    sock.close()


def only_segment(events: Sequence[Progress]) -> str:
    paths = [e.segment.path for e in events if isinstance(e, SegmentClosed)]
    assert len(paths) == 1, events
    return paths[0]


def nearest(values: Sequence[float], target: float) -> float:
    return min(values, key=lambda v: abs(v - target))


def test_manual_grid_tiles_and_audio_selection(server: StreamServer, tmp_path: Path) -> None:
    users = ["red", "green", "blue", "yellow"]
    streams = tuple(cam(server, u, seq=i) for i, u in enumerate(users)) + tuple(
        mic(server, u, seq=i) for i, u in enumerate(users)
    )
    tiles = tuple(
        tile(u, x, y, 160, 90)
        for u, (x, y) in zip(users, [(0, 0), (160, 0), (0, 90), (160, 90)], strict=True)
    )
    layout = Layout(video=tiles, audio=(AudioRef("red", "0"), AudioRef("blue", "0")))
    result, _ = record(make_spec(tmp_path, streams=streams, layout=layout), [(3.0, Finish())])

    assert isinstance(result.events[0], Started)
    assert any(isinstance(e, Stats) for e in result.events)
    finished = result.finished
    assert not finished.timed_out and finished.stats.flow_bytes > 10_000
    path = only_segment(result.events)
    frames = video_frames(path)
    assert len(frames) >= 2.4 * FPS
    for _, img in frames[3:]:
        assert near(pixel(img, 80, 45), RED) and near(pixel(img, 240, 45), GREEN)
        assert near(pixel(img, 80, 135), BLUE) and near(pixel(img, 240, 135), YELLOW)
    v_end, a_end = media_duration(path)
    assert abs(v_end - finished.stats.media_duration) < 0.1 and abs(a_end - v_end) < 0.1
    samples, rate, _ = audio_mono(path)
    body = samples[rate // 2 :]
    assert tone_level(body, rate, TONES["red"]) > 0.2 and tone_level(body, rate, TONES["blue"]) > 0.2
    assert tone_level(body, rate, TONES["green"]) < 0.01 and tone_level(body, rate, TONES["yellow"]) < 0.01


def test_crop_modes_pip_clipping_and_unpublished_placeholder(server: StreamServer, tmp_path: Path) -> None:
    streams = (cam(server, "pat", "pattern"), cam(server, "y", "yellow"), cam(server, "b", "blue"))
    layout = Layout(
        video=(
            tile("pat", 0, 0, 320, 180, CropMode.STRETCH),
            tile("pat", 320, 0, 320, 180, CropMode.FILL),
            tile("pat", 0, 180, 320, 180, CropMode.FIT),
            tile("nobody", 320, 180, 320, 180),  # never published: placeholder
            tile("y", 560, 300, 60, 40),  # picture-in-picture over the placeholder
            tile("b", 620, 340, 100, 100, CropMode.FILL),  # mostly outside the canvas
        )
    )
    spec = make_spec(tmp_path, width=640, height=360, streams=streams, layout=layout)
    result, _ = record(spec, [(2.5, Finish())])
    frames = video_frames(only_segment(result.events))
    img = frames[-3][1]
    # stretch: all four bands; fill: top/bottom bands cropped away; fit: black bars left and right
    assert near(pixel(img, 160, 6), GREEN) and near(pixel(img, 160, 173), YELLOW)
    assert near(pixel(img, 10, 90), RED) and near(pixel(img, 309, 90), BLUE)
    assert near(pixel(img, 480, 4), MAGENTA) and near(pixel(img, 480, 175), MAGENTA)
    assert near(pixel(img, 330, 90), RED) and near(pixel(img, 629, 90), BLUE)
    assert near(pixel(img, 15, 270), BLACK, 12) and near(pixel(img, 305, 270), BLACK, 12)
    assert near(pixel(img, 50, 270), RED) and near(pixel(img, 160, 184), GREEN)
    assert near(pixel(img, 330, 190), PLACEHOLDER, 12)
    assert (img[180:300, 320:560].astype(int).sum(axis=2) > 450).sum() > 20  # the user id is written
    assert near(pixel(img, 590, 320), YELLOW) and near(pixel(img, 630, 350), BLUE)


def test_set_layout_starts_and_then_changes_the_picture(server: StreamServer, tmp_path: Path) -> None:
    streams = (cam(server, "red"), cam(server, "blue"))
    red = Layout(video=(tile("red", 0, 0, 320, 180),))
    blue = Layout(video=(tile("blue", 0, 0, 320, 180),))
    spec = make_spec(tmp_path, streams=streams)  # manual, no layout yet: nothing is recorded
    result, script = record(spec, [(1.0, SetLayout(red)), (2.5, SetLayout(blue)), (4.0, Finish())])
    started = result.started
    assert started is not None
    first_set, second_set = script.delivered[0][0], script.delivered[1][0]
    assert 0 <= started.at - first_set < 0.6
    path = only_segment(result.events)
    frames = video_frames(path)
    palette = {"r": RED, "b": BLUE, "p": PLACEHOLDER}
    text = "".join(
        next((k for k, v in palette.items() if near(pixel(f, 20, 20), v, 30)), "?") for _, f in frames
    )
    # red, then (while the new stream connects) at most a few placeholder frames, then blue
    assert re.fullmatch(r"r{15,}p{0,5}b{15,}", text), text
    switch = text.index("b") - text.count("p")
    expected = (second_set - started.at) * FPS
    assert expected - 1 <= switch <= expected + 8  # the new layout shows once its stream connects
    assert abs(media_duration(path)[0] - (4.0 - (started.at - first_set) - 1.0)) < 0.4


def test_suspend_and_resume_cut_the_timeline_without_gaps(server: StreamServer, tmp_path: Path) -> None:
    streams = (cam(server, "red"), mic(server, "red"))
    layout = Layout(video=(tile("red", 0, 0, 320, 180),), audio=(AudioRef("red", "0"),))
    spec = make_spec(tmp_path, streams=streams, layout=layout, paused=True)  # starts suspended
    steps: list[tuple[float, Command]] = [(1.0, Resume()), (2.0, Suspend()), (3.5, Resume()), (4.5, Finish())]
    result, _ = record(spec, steps)
    path = only_segment(result.events)
    v_end, a_end = media_duration(path)
    assert 1.7 < v_end < 2.3 and abs(a_end - v_end) < 0.1  # 4.5 s of wall time, 2.0 s recorded
    assert abs(result.finished.stats.media_duration - v_end) < 0.1
    times = [t for t, _ in video_frames(path)]
    assert max(np.diff(times)) < 1.5 / FPS  # no frozen frame over the pause
    samples, rate, _ = audio_mono(path)
    window = rate // 20
    levels = [
        np.sqrt(np.mean(samples[i : i + window] ** 2))
        for i in range(window * 2, len(samples) - window * 2, window)
    ]
    assert min(levels) > 0.1, [round(float(v), 2) for v in levels]  # the tone goes on: no gap at the resume


def test_segments_rotate_and_each_plays_alone(server: StreamServer, tmp_path: Path) -> None:
    streams = (cam(server, "green"), mic(server, "green"))
    layout = Layout(video=(tile("green", 0, 0, 320, 180),), audio=(AudioRef("green", "0"),))
    spec = make_spec(
        tmp_path,
        streams=streams,
        layout=layout,
        segment_seconds=1.0,
        file_name="class1",
        width=321,
        height=179,
    )
    result, _ = record(spec, [(3.6, Finish())])
    segments = [e.segment for e in result.segments]
    assert [s.index for s in segments] == list(range(1, len(segments) + 1))
    assert [s.name for s in segments] == [f"class1_{i:04d}.mp4" for i in range(1, len(segments) + 1)]
    assert len(segments) == 4
    # each segment with its poster beside it (the middle picture, see test_snapshot)
    names = sorted([s.name for s in segments] + [f"class1_{s.index:04d}.jpg" for s in segments])
    assert sorted(os.listdir(tmp_path)) == names
    assert [s.poster for s in segments] == [str(tmp_path / f"class1_{s.index:04d}.jpg") for s in segments]
    total = 0.0
    for seg in segments:
        data = Path(seg.path).read_bytes()
        assert hashlib.md5(data).hexdigest() == seg.md5 and len(data) == seg.size
        with av.open(seg.path) as c:
            first = next(c.decode(c.streams.video[0]))
            assert first.key_frame and float(first.time or 0) < 0.01
        v_end, a_end = media_duration(seg.path)
        assert abs(v_end - seg.duration) < 0.1 and abs(a_end - v_end) < 0.1
        frames = video_frames(seg.path)
        assert frames[0][1].shape == (180, 322, 3)  # odd canvas sizes are rounded up to even
        assert near(pixel(frames[len(frames) // 2][1], 160, 90), GREEN)
        samples, rate, _ = audio_mono(seg.path)
        assert tone_level(samples, rate, TONES["green"]) > 0.2
        total += v_end
    assert [round(s.duration, 3) for s in segments[:3]] == [1.0, 1.0, 1.0]
    assert abs(total - result.finished.stats.media_duration) < 0.15


def test_mp3_task_records_the_selected_audio_only(
    server: StreamServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    streams = (cam(server, "red"), mic(server, "red"), mic(server, "blue"))
    layout = Layout(video=(tile("red", 0, 0, 320, 180),), audio=(AudioRef("red", "0"),))
    spec = make_spec(tmp_path, streams=streams, layout=layout, file_type=FileType.MP3)
    opened: list[Source] = []

    class Recorded(Source):
        def start(self) -> None:
            opened.append(self)
            super().start()

    monkeypatch.setattr(pipeline_module, "Source", Recorded)
    result, _ = record(spec, [(3.0, Finish())])
    assert [s.url for s in opened] == [server.url("red.flv")]
    assert not opened[0].want_video and opened[0]._video_seq == 0  # no video decoded at all
    path = only_segment(result.events)
    assert path.endswith("rec_0001.mp3")
    with av.open(path) as c:
        assert not c.streams.video and c.streams.audio[0].codec_context.name.startswith("mp3")
    samples, rate, _ = audio_mono(path)
    assert abs(len(samples) / rate - result.finished.stats.media_duration) < 0.1
    assert 2.4 < len(samples) / rate < 3.2
    assert tone_level(samples[rate // 2 :], rate, TONES["red"]) > 0.2
    assert tone_level(samples[rate // 2 :], rate, TONES["blue"]) < 0.01


def test_source_that_never_answers_shows_a_placeholder(
    server: StreamServer, tmp_path: Path, silent_url: str
) -> None:
    streams = (
        cam(server, "red"),
        StreamInfo("ghost", CAM, "0", silent_url),
        StreamInfo("ghost", AUD, "0", silent_url),
    )
    layout = Layout(
        video=(tile("red", 0, 0, 160, 180), tile("ghost", 160, 0, 160, 180)), audio=(AudioRef("ghost", "0"),)
    )
    result, _ = record(make_spec(tmp_path, streams=streams, layout=layout), [(2.5, Finish())])
    frames = video_frames(only_segment(result.events))
    for _, img in frames[2:]:
        assert near(pixel(img, 80, 90), RED) and near(pixel(img, 200, 10), PLACEHOLDER, 12)
    samples, _, _ = audio_mono(only_segment(result.events))
    assert len(samples) > 0 and np.abs(samples).max() < 0.01  # silence, not a missing track


def test_timeout_when_nothing_can_be_pulled(tmp_path: Path, silent_url: str) -> None:
    streams = (StreamInfo("ghost", CAM, "0", silent_url),)
    layout = Layout(video=(tile("ghost", 0, 0, 320, 180),))
    spec = make_spec(tmp_path, streams=streams, layout=layout, timeout_seconds=1.5)
    result, _ = record(spec, [])
    assert result.finished.timed_out and result.finished.stats.flow_bytes == 0
    assert 1.4 < result.wall < 2.5
    # the timeline ran from the start: the placeholder, for as long as the task waited
    path = only_segment(result.events)
    frames = video_frames(path)
    assert frames and all(near(pixel(f, 20, 20), PLACEHOLDER, 12) for _, f in frames)
    assert abs(len(frames) / FPS - result.finished.stats.media_duration) <= 1 / FPS
    assert 1.2 < result.finished.stats.media_duration < result.wall
    # commands keep the task alive: the timeout counts from the last one
    steps = [(1.0, SetStreams(streams)), (2.0, SetStreams(streams))]
    result, _ = record(make_spec(tmp_path, streams=streams, layout=layout, timeout_seconds=1.5), steps)
    assert result.finished.timed_out and 3.3 < result.wall < 4.3


def test_auto_grid_prefers_screen_share_and_reflows(server: StreamServer, tmp_path: Path) -> None:
    streams = (
        cam(server, "a", "red", seq=1),
        cam(server, "b", "green", seq=2),
        cam(server, "c", "blue", seq=3),
        StreamInfo(
            "a", MediaType.SCREEN, "0", server.url("yellow.flv"), 4
        ),  # a's screen wins over a's camera
    )
    spec = make_spec(tmp_path, streams=streams, auto=AutoSpec(type=1, crop_mode=CropMode.FILL))
    without_b = tuple(s for s in streams if s.user_id != "b")
    result, script = record(spec, [(2.0, SetStreams(without_b)), (3.5, Finish())])
    started = result.started
    assert started is not None
    frames = video_frames(only_segment(result.events))
    change = (script.delivered[0][0] - started.at) * FPS
    before = frames[int(change) - 4][1]
    assert near(pixel(before, 80, 45), YELLOW) and near(pixel(before, 240, 45), GREEN)
    assert near(pixel(before, 80, 135), BLUE) and near(pixel(before, 240, 135), BLACK, 12)
    after = frames[-2][1]  # two side by side: a (screen) and c
    assert near(pixel(after, 80, 90), YELLOW) and near(pixel(after, 240, 90), BLUE)
    # the re-flow is immediate: the next frame already has the new geometry
    assert near(pixel(frames[int(change) + 2][1], 240, 20), BLUE)


def test_manual_tile_falls_back_to_placeholder_and_recovers(server: StreamServer, tmp_path: Path) -> None:
    streams = (cam(server, "green"), cam(server, "red"))
    layout = Layout(video=(tile("green", 0, 0, 160, 180), tile("red", 160, 0, 160, 180)))
    only_red = (cam(server, "red"),)
    steps: list[tuple[float, Command]] = [
        (1.0, SetStreams(only_red)),
        (2.0, SetStreams(streams)),
        (3.5, Finish()),
    ]
    result, script = record(make_spec(tmp_path, streams=streams, layout=layout), steps)
    started = result.started
    assert started is not None
    frames = video_frames(only_segment(result.events))

    def at(t: float) -> np.ndarray:
        return frames[min(len(frames) - 1, int((t - started.at) * FPS))][1]

    gone = script.delivered[0][0]
    assert near(pixel(at(gone - 0.2), 80, 90), GREEN)
    assert near(pixel(at(gone + 0.3), 80, 10), PLACEHOLDER, 12) and near(pixel(at(gone + 0.3), 240, 90), RED)
    assert near(pixel(frames[-2][1], 80, 90), GREEN)  # recovered after the stream came back


def test_audio_and_video_stay_in_sync(server: StreamServer, tmp_path: Path) -> None:
    streams = (cam(server, "f", "flash"), mic(server, "f", "flash"))
    layout = Layout(video=(tile("f", 0, 0, 320, 180),), audio=(AudioRef("f", "0"),))
    result, _ = record(make_spec(tmp_path, streams=streams, layout=layout), [(3.8, Finish())])
    path = only_segment(result.events)
    frames = video_frames(path)
    bright = [img.mean() > 128 for _, img in frames]
    flashes = [frames[i][0] for i in range(1, len(frames)) if bright[i] and not bright[i - 1]]
    samples, rate, first = audio_mono(path)
    window = rate // 200  # 5 ms
    env = np.array([np.abs(samples[i : i + window]).max() for i in range(0, len(samples) - window, window)])
    loud = env > 0.1
    beeps = [first + i * window / rate for i in range(1, len(loud)) if loud[i] and not loud[i - 1]]
    assert len(flashes) >= 2 and len(beeps) >= 2
    offsets = [nearest(beeps, f) - f for f in flashes]
    # within half an output frame (33 ms at 15 fps) plus a little: sync holds by construction
    assert all(abs(o) < 0.05 for o in offsets), offsets
    assert np.diff(flashes).round(1).tolist() == [FLASH_PERIOD] * (len(flashes) - 1)


def test_fatal_error_closes_the_segment_then_fails(
    server: StreamServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = compositor_module.Compositor.compose
    calls = {"n": 0}

    def failing(
        self: compositor_module.Compositor,
        tiles: list[compositor_module.TileDraw],
        overlays: Sequence[Overlay] = (),
    ) -> av.VideoFrame:
        calls["n"] += 1
        if calls["n"] > 20:
            raise RuntimeError("boom")
        return original(self, tiles, overlays)

    monkeypatch.setattr(compositor_module.Compositor, "compose", failing)
    streams = (cam(server, "red"),)
    layout = Layout(video=(tile("red", 0, 0, 320, 180),))
    result, _ = record(make_spec(tmp_path, streams=streams, layout=layout), [(5.0, Finish())])
    last = result.events[-1]
    assert isinstance(last, Failed) and "boom" in last.reason
    frames = video_frames(only_segment(result.events))
    assert len(frames) == 20 and near(pixel(frames[-1][1], 160, 90), RED)


def test_a_killed_recorder_leaves_a_playable_segment(server: StreamServer, tmp_path: Path) -> None:
    streams = (cam(server, "blue"), mic(server, "blue"))
    layout = Layout(video=(tile("blue", 0, 0, 320, 180),), audio=(AudioRef("blue", "0"),))
    spec = make_spec(tmp_path, streams=streams, layout=layout)
    proc = multiprocessing.get_context("spawn").Process(target=record_forever, args=(spec,), daemon=True)
    proc.start()
    path = tmp_path / "rec_0001.mp4"
    deadline = time.monotonic() + 20
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(2.6)
    proc.kill()  # SIGKILL: no flush, no trailer
    proc.join(5)
    frames = video_frames(path)
    assert len(frames) >= 1.0 * FPS and near(pixel(frames[-1][1], 160, 90), BLUE)
    samples, rate, _ = audio_mono(path)
    assert len(samples) / rate >= 1.0 and tone_level(samples, rate, TONES["blue"]) > 0.2


def test_a_stream_that_ends_is_pulled_again(server: StreamServer, tmp_path: Path) -> None:
    streams = (cam(server, "s", "short"),)  # a one-second clip: EOF, then a reconnect
    layout = Layout(video=(tile("s", 0, 0, 320, 180),))
    result, _ = record(make_spec(tmp_path, streams=streams, layout=layout), [(3.5, Finish())])
    frames = video_frames(only_segment(result.events))
    text = "".join(
        "r" if near(pixel(f, 20, 20), RED) else "p" if near(pixel(f, 20, 20), PLACEHOLDER, 12) else "?"
        for _, f in frames
    )
    assert re.fullmatch(r"r{8,}(p{3,}r+)+p*", text), text  # red, gone at the end, red again
    assert server.served.count("short.flv") >= 2
    assert result.finished.stats.flow_bytes > 2 * (server.root / "short.flv").stat().st_size


@pytest.mark.parametrize("vfr", [True, False])
def test_a_still_picture_is_encoded_at_the_minimum_rate(
    server: StreamServer, tmp_path: Path, vfr: bool
) -> None:
    """A 30 fps canvas of a still camera: variable frame rate encodes half the frames, same timeline."""
    streams = (cam(server, "red"), mic(server, "red"))
    layout = Layout(video=(tile("red", 0, 0, 320, 180),), audio=(AudioRef("red", "0"),))
    spec = make_spec(tmp_path, streams=streams, layout=layout, frame_rate=30, variable_frame_rate=vfr)
    result, _ = record(spec, [(2.5, Finish())])
    path = only_segment(result.events)
    v_end, a_end = media_duration(path)
    assert abs(v_end - a_end) < 0.1 and abs(a_end - result.finished.stats.media_duration) < 0.1
    frames = video_frames(path)
    per_second = len(frames) / v_end
    if vfr:
        assert MIN_FRAME_RATE - 2 < per_second < MIN_FRAME_RATE + 2, per_second
    else:
        assert per_second > 28, per_second
    assert all(near(pixel(img, 160, 90), RED) for _, img in frames)
    # every tick of the timeline is accounted for: composed, or skipped when a stalled host made the
    # recorder late (a matter of speed, measured in benchmarks/, not asserted here)
    stats = result.finished.stats
    assert abs(stats.frames_composed + stats.skipped_frames - stats.media_duration * 30) <= 1, stats


def test_falling_behind_skips_frames_not_time(
    server: StreamServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = compositor_module.Compositor.compose

    def slow(
        self: compositor_module.Compositor,
        tiles: Sequence[compositor_module.TileDraw],
        overlays: Sequence[Overlay] = (),
    ) -> av.VideoFrame:
        time.sleep(0.15)  # a machine that manages about 6 of the 15 frames a second
        return original(self, tiles, overlays)

    monkeypatch.setattr(compositor_module.Compositor, "compose", slow)
    streams = (cam(server, "red"), mic(server, "red"))
    layout = Layout(video=(tile("red", 0, 0, 320, 180),), audio=(AudioRef("red", "0"),))
    result, _ = record(make_spec(tmp_path, streams=streams, layout=layout), [(3.0, Finish())])
    path = only_segment(result.events)
    v_end, a_end = media_duration(path)
    # the timeline kept pace with the clock, up to the slack in which late pictures are still drawn
    assert a_end > 2.6 - pipeline_module.PICTURE_SLACK_SECONDS and abs(v_end - a_end) < 0.25
    # ... by not composing pictures (the last one stands in: a constant frame rate) and said so
    assert abs(len(video_frames(path)) - FPS * a_end) <= 2
    assert result.finished.stats.skipped_frames > 0.4 * FPS * a_end
    assert result.finished.stats.frames_composed < 0.6 * FPS * a_end
    samples, rate, _ = audio_mono(path)
    window = rate // 20
    body = samples[window * 3 : -window * 3]
    levels = [np.sqrt(np.mean(body[i : i + window] ** 2)) for i in range(0, len(body) - window, window)]
    assert min(levels) > 0.1, [round(float(v), 2) for v in levels]  # and audio never paused


def test_a_media_clock_can_drive_the_timeout(tmp_path: Path, silent_url: str) -> None:
    clock = FakeClock()
    streams = (StreamInfo("ghost", CAM, "0", silent_url),)
    spec = make_spec(tmp_path, streams=streams, layout=Layout(video=(tile("ghost", 0, 0, 320, 180),)))
    events: list[Progress] = []
    t0 = time.monotonic()
    run_recording(
        replace(spec, timeout_seconds=600.0, frame_rate=1), lambda _t: None, events.append, clock=clock
    )
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.timed_out and finished.stats.flow_bytes == 0
    assert 598.0 <= finished.stats.media_duration <= 600.0  # the placeholder, from the start
    assert 1600.0 <= clock.t < 1601.0 and time.monotonic() - t0 < 10  # 600 media seconds, fast
