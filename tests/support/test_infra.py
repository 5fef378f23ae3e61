"""The test media infrastructure works: a real NMS, a real publisher process, real pulls."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from . import mediaserver
from .mediaserver import MediaServer, MediaServerNotInstalledError
from .publisher import (
    Capture,
    MediaSpec,
    Publisher,
    PublishError,
    PullError,
    beep_onsets,
    capture,
    flash_times,
    mean_rgb,
    peak_hz,
    rms,
    write_file,
)

pytestmark = pytest.mark.timeout(60)

RED = (255, 0, 0)
GREEN = (0, 255, 0)


@pytest.fixture(scope="module")
def nms() -> Iterator[MediaServer]:
    with MediaServer() as server:
        yield server
        server.check_alive()


@pytest.fixture(scope="module")
def red_stream(nms: MediaServer) -> Iterator[str]:
    """A red 160x120 + 440 Hz stream published on live/red; yields its name."""
    with Publisher(nms.rtmp_url("live", "red"), color=RED, tone_hz=440, size=(160, 120), fps=15) as pub:
        pub.wait_live(timeout=15)
        yield "red"
        assert pub.running, pub.log_text()


def assert_color(img: np.ndarray, rgb: tuple[int, int, int], tol: float = 30.0) -> None:
    got = mean_rgb(img)
    assert all(abs(g - w) <= tol for g, w in zip(got, rgb, strict=True)), f"colour {got}, expected ≈{rgb}"


def assert_red_440(cap: Capture) -> None:
    assert len(cap.video) == 5
    assert cap.video[0].shape == (120, 160, 3)
    for img in cap.video:
        assert_color(img, RED)
    assert cap.sample_rate == 48000
    assert abs(peak_hz(cap.audio, cap.sample_rate) - 440) < 5
    assert rms(cap.audio) > 0.2  # amplitude 0.5 sine: rms 0.35


# --- the checks themselves discriminate (so the live tests below can fail) ----------------------


def test_checks_reject_wrong_colour_and_tone() -> None:
    green = np.zeros((120, 160, 3), np.uint8)
    green[:] = GREEN
    with pytest.raises(AssertionError):
        assert_color(green, RED)
    t = np.arange(48000) / 48000
    assert abs(peak_hz((0.5 * np.sin(2 * np.pi * 880 * t)).astype(np.float32), 48000) - 880) < 2
    assert rms(np.zeros(1000, np.float32)) == 0.0


# --- live: publish, pull back -----------------------------------------------------------------


def test_url_forms(nms: MediaServer) -> None:
    assert nms.rtmp_url("live", "a_b-1") == f"rtmp://127.0.0.1:{nms.rtmp_port}/live/a_b-1"
    assert nms.flv_url("live", "a_b-1") == f"http://127.0.0.1:{nms.http_port}/live/a_b-1.flv"
    with pytest.raises(ValueError):
        nms.flv_url("live", "bad.name")


@pytest.mark.parametrize("protocol", ["rtmp", "flv"])
def test_pull_red_440(nms: MediaServer, red_stream: str, protocol: str) -> None:
    url = nms.rtmp_url("live", red_stream) if protocol == "rtmp" else nms.flv_url("live", red_stream)
    cap = capture(url, video_frames=5, audio_seconds=1.0, timeout=10)
    if protocol == "flv":
        # NMS's HTTP-FLV has a data stream first: streams must be picked by type.
        assert cap.stream_types == ["data", "audio", "video"]
    else:
        assert sorted(cap.stream_types) == ["audio", "video"]
    assert_red_440(cap)


def test_two_streams_are_distinct(nms: MediaServer, red_stream: str) -> None:
    with Publisher(nms.rtmp_url("live", "green"), color=GREEN, tone_hz=1000) as pub:
        pub.wait_live(nms.flv_url("live", "green"), timeout=15)
        cap = capture(nms.flv_url("live", "green"), video_frames=3, audio_seconds=0.5)
    assert_color(cap.video[-1], GREEN)
    assert abs(peak_hz(cap.audio, cap.sample_rate) - 1000) < 10
    red = capture(nms.rtmp_url("live", red_stream), video_frames=1, timeout=10)
    assert_color(red.video[0], RED)


def test_kill_and_restart_publisher(nms: MediaServer) -> None:
    url = nms.rtmp_url("live", "drop")
    with Publisher(url, color=RED, tone_hz=440) as pub:
        pub.wait_live(timeout=15)
        assert_color(capture(url, video_frames=2).video[-1], RED)

        assert pub.stop(kill=True) == -9
        assert not pub.running
        # Dropped: NMS keeps the stream "reconnecting" for 30 s and still gives new players the old
        # GOP cache (at most 1 s = 15 frames), then nothing: more frames than that cannot come.
        t0 = time.monotonic()
        with pytest.raises(PullError):
            capture(nms.flv_url("live", "drop"), video_frames=40, timeout=3, open_timeout=2, read_timeout=1)
        assert time.monotonic() - t0 < 3.5
        with pytest.raises(PublishError):
            pub.wait_live(timeout=2)  # the process is dead: says so at once

        pub.start(color=GREEN)  # restarted (as the same client: NMS resumes the stream)
        pub.wait_live(nms.flv_url("live", "drop"), timeout=15)
        cap = capture(nms.flv_url("live", "drop"), video_frames=20, audio_seconds=0.5, timeout=10)
        for img in cap.video:
            assert_color(img, GREEN)
        assert abs(peak_hz(cap.audio, cap.sample_rate) - 440) < 5
    assert not pub.running


@pytest.mark.parametrize("protocol", ["rtmp", "flv"])
def test_unpublished_stream_fails_within_timeout(nms: MediaServer, protocol: str) -> None:
    url = nms.rtmp_url("live", "nobody") if protocol == "rtmp" else nms.flv_url("live", "nobody")
    t0 = time.monotonic()
    with pytest.raises(PullError):
        capture(url, video_frames=1, timeout=1.5)
    assert time.monotonic() - t0 < 3.0


def test_opus_is_relayed(nms: MediaServer) -> None:
    """NMS 4.4.3 relays enhanced-FLV Opus (FFmpeg 8's flv muxer writes it) over RTMP and HTTP-FLV."""
    with Publisher(nms.rtmp_url("live", "opus"), video=False, audio_codec="opus", tone_hz=660) as pub:
        pub.wait_live(timeout=15)
        cap = capture(nms.flv_url("live", "opus"), audio_seconds=0.5, timeout=10)
    assert "video" not in cap.stream_types
    assert abs(peak_hz(cap.audio, cap.sample_rate) - 660) < 5


def test_publisher_fails_without_server() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connection refused
        pub = Publisher(f"rtmp://127.0.0.1:{port}/live/x", connect_timeout=2)
        with pub, pytest.raises(PublishError, match="exited with code 1"):
            pub.wait_publishing(timeout=10)


def test_missing_node_modules_raises(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(mediaserver, "NMS_APP", tmp_path / "missing" / "app.js")
    with pytest.raises(MediaServerNotInstalledError, match="npm ci --prefix tests/mediaserver"):
        MediaServer().start()


# --- files ------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".mp4", ".ts", ".flv"])
def test_write_file_red_440(tmp_path: Path, suffix: str) -> None:
    path = write_file(tmp_path / f"red{suffix}", duration=2, color=RED, tone_hz=440)
    cap = capture(str(path), video_frames=5, audio_seconds=1.0)
    assert_red_440(cap)


@pytest.mark.parametrize("offset_ms", [0, 200])
def test_flash_beep_pattern(tmp_path: Path, offset_ms: int) -> None:
    spec = MediaSpec(pattern="flash_beep", tone_hz=1000, beep_ms=100, beep_offset_ms=offset_ms, fps=15)
    path = write_file(tmp_path / "sync.mkv", spec, duration=4)
    cap = capture(str(path), video_frames=60, audio_seconds=3.9)
    flashes = flash_times(cap)
    beeps = beep_onsets(cap)
    assert flashes == pytest.approx([0.0, 1.0, 2.0, 3.0], abs=1 / 15)
    assert len(beeps) == 4
    skews = [b - f for f, b in zip(flashes, beeps, strict=True)]
    assert skews == pytest.approx([offset_ms / 1000] * 4, abs=0.011)
    # one white frame per second, the rest black
    assert sum(float(img.mean()) > 128 for img in cap.video) == 4
