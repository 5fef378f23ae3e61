"""`cloudrec demo` as a newcomer runs it: a subprocess against a real server, its downloaded file decoded.

Also Ctrl-C (the sources stop, the recording is finished, the streams unpublished) and `--serve-sources`.
What each failure says is in test_demo_failures.py.
"""

from __future__ import annotations

import functools
import itertools
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from api.harness import DatabaseFactory, LiveServer
from PIL import Image
from support.decode import audio_samples, close, media_duration, pixel, tone_share, video_frames

from cloudrec.demo.sources import BALL_TOP, DEMO_SOURCES, FPS, SIZE, Picture
from cloudrec.layout import equal_grid
from e2e.demo_helpers import (
    COLOURS,
    RUN_TIMEOUT_S,
    SOURCE_URL,
    TONES,
    H,
    W,
    demo_command,
    demo_env,
    demo_server,
    demo_tenant,
    group_streams,
    port_closed,
    run_demo,
)


@pytest.fixture
def server(databases: DatabaseFactory, tmp_path: Path) -> Iterator[LiveServer]:
    with demo_server(databases, tmp_path) as live:
        yield live


def grid(users: list[str]) -> list[tuple[tuple[int, int], tuple[int, int, int]]]:
    """(tile centre, colour) of each user of an equal grid of `users` on the demo's canvas."""
    rects = equal_grid(len(users), W, H)
    return [((r.x + r.w // 2, r.y + r.h // 2), COLOURS[u]) for r, u in zip(rects, users, strict=True)]


def shows(frame: np.ndarray[Any, Any], expected: list[tuple[tuple[int, int], tuple[int, int, int]]]) -> bool:
    return all(close(pixel(frame, x, y), colour, tol=40) for (x, y), colour in expected)


@functools.cache
def alice_at(index: int) -> np.ndarray[Any, Any]:
    """Rows of alice's picture number `index` that change with time (the ball, the clock), as the demo
    draws them."""
    picture = Picture(DEMO_SOURCES[0]).frame(index).to_ndarray(format="rgb24")
    return np.asarray(picture[BALL_TOP:], dtype=np.int16)


def source_time(frame: np.ndarray[Any, Any]) -> float:
    """The time on alice's clock in a 2x2 frame (her tile, top left, shows her picture unscaled): the picture
    of hers it is closest to, within the first minute."""
    tile = frame[BALL_TOP : SIZE[1], : SIZE[0]].astype(np.int16)
    best = min(range(60 * FPS), key=lambda i: float(np.abs(tile - alice_at(i)).mean()))
    return best / FPS


def test_the_demo_records_a_grid_that_changes_a_pause_and_downloads_the_file(
    server: LiveServer, tmp_path: Path
) -> None:
    picture = tmp_path / "first-recording.png"
    pause_s = 3.0  # longer than the start-up lag of a recording (< 1.8 s): an uncut pause would show
    r = run_demo(server, "--out", str(tmp_path / "out"), "--frame", str(picture), "--phase-s", "2.5",
                 "--pause-s", str(pause_s))  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    for n in range(1, 13):
        assert re.search(rf"^\[ *\d+\.\d s\] {n}/12 .* \.\.\. ok \(\d+\.\d s\)", out, re.M), out
    recorded = re.search(
        r"recorded ([\d.]+) s \(([\d.]+) s from init to finish, minus ([\d.]+) s paused\)", out
    )
    assert recorded, out
    media_s, paused_s = float(recorded[1]), float(recorded[3])
    assert abs(paused_s - pause_s) < 0.5, out
    urls = re.findall(r"^  (http://127\.0\.0\.1:\d+/download/\S+)$", out, re.M)
    saved = [Path(p) for p in re.findall(r"^  (/\S+\.mp4)$", out, re.M)]
    assert len(urls) == len(saved) >= 1, out
    assert all(p.is_file() and p.is_relative_to(tmp_path / "out") for p in saved), saved

    # the pictures: alice and bob side by side, then the four in a 2x2 grid (after the first state)
    frames: list[tuple[float, Any]] = []
    for path in saved:
        offset = frames[-1][0] + 1 / 15 if frames else 0.0
        frames += [(offset + t, f) for t, f in video_frames(path)]
    two, four = grid(["alice", "bob"]), grid(["alice", "bob", "carol", "dave"])
    first_two = next((t for t, f in frames if shows(f, two)), None)
    assert first_two is not None and first_two < 2.0, [pixel(frames[0][1], x, y) for (x, y), _ in two]
    first_four = next((t for t, f in frames if t > first_two and shows(f, four)), None)
    assert first_four is not None, [pixel(frames[-1][1], x, y) for (x, y), _ in four]
    # 2x1 until carol and dave join (then their tiles wait for their pictures, under a second)
    assert all(shows(f, two) for t, f in frames if first_two <= t < first_four - 1.2)
    assert sum(1 for t, f in frames if shows(f, two)) >= 15  # at least a second of it
    assert all(shows(f, four) for t, f in frames[-15:]), "the 2x2 grid lasts to the end"

    # the sound: alice's and bob's notes at first, then all four
    samples, rate = audio_samples(saved[0])
    start = samples[int(0.2 * rate) : int((first_two + 1.0) * rate)]
    end = np.concatenate([audio_samples(p)[0] for p in saved])[-rate:]
    for user, hz in TONES.items():
        assert tone_share(end, rate, hz, band=15) > 0.1, (user, "not heard at the end")
        share = tone_share(start, rate, hz, band=15)
        assert share > 0.2 if user in ("alice", "bob") else share < 0.01, (user, share)

    # the pause is cut: the files last what was recorded outside it (less the recording's start-up)
    decoded = sum(media_duration(p) for p in saved)
    assert media_s - 1.8 < decoded < media_s + 0.3, (decoded, media_s, paused_s)
    # ... and seen in the picture: alice's clock keeps time with the file, but for one jump of the pause
    clock = [(t, source_time(f)) for t, f in frames[::5] if t > first_four]
    steps = [(c1 - c0) - (t1 - t0) for (t0, c0), (t1, c1) in itertools.pairwise(clock)]
    jumps = [d for d in steps if abs(d) > 0.25]
    assert len(jumps) == 1 and abs(jumps[0] - paused_s) < 0.4, (paused_s, clock)

    # the picture is a frame of the file, with the 2x2 grid
    with Image.open(picture) as img:
        assert img.size == (W, H)
        assert shows(np.asarray(img.convert("RGB")), four)

    # everything the demo started is gone: its sources, its streams in the group; the task is done
    port = SOURCE_URL.search(out)
    assert port, out
    assert port_closed(int(port[1]))
    tenant = demo_tenant(server)
    record_id = re.search(r"record_id=(\S+)", out)
    assert record_id, out
    assert tenant.task(record_id[1])["status"] == 6
    group = re.search(r"into group (\S+)", out)
    assert group, out
    assert group_streams(tenant, group[1]) == 0


def test_ctrl_c_stops_the_sources_finishes_the_recording_and_unpublishes(
    server: LiveServer, tmp_path: Path
) -> None:
    proc = subprocess.Popen(
        [*demo_command(server, "--out", str(tmp_path / "out"), "--phase-s", "20")],
        env=demo_env(server),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while not any("init: an automatic grid ... ok" in line for line in lines):
            assert time.monotonic() < deadline and proc.poll() is None, "".join(lines)
            lines.append(proc.stdout.readline())
        time.sleep(1.0)  # recording
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=15)
    finally:
        proc.kill()
    out = "".join(lines) + rest
    assert proc.returncode == 130, out + err
    assert "interrupted: finished the recording" in err and "stopped the sources" in err, err
    assert "unpublished 4 streams" in err, err  # alice's and bob's camera and microphone
    port = SOURCE_URL.search(out)
    record_id = re.search(r"record_id=(\S+)", out)
    group = re.search(r"into group (\S+)", out)
    assert port and record_id and group, out
    assert port_closed(int(port[1]))
    tenant = demo_tenant(server)
    tenant.wait_status(record_id[1], 6, timeout=30)  # finished, its recording kept
    assert group_streams(tenant, group[1]) == 0


def test_serve_sources_serves_live_video_and_tones_until_stopped(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "cloudrec", "demo", "--serve-sources", "--sources-port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        listing = [proc.stdout.readline() for _ in range(len(DEMO_SOURCES) + 1)]
        urls = dict(re.findall(r"^  (\w+) +(http://127\.0\.0\.1:\d+/\w+\.flv)", "".join(listing), re.M))
        assert list(urls) == [s.name for s in DEMO_SOURCES], listing
        assert urls["carol"] == f"http://127.0.0.1:{port}/carol.flv"
        with av.open(urls["carol"], timeout=10) as c:
            first = next(iter(c.decode(c.streams.video[0])))
            picture = np.asarray(first.to_ndarray(format="rgb24"), dtype=np.uint8)
            samples = np.concatenate(
                [
                    f.to_ndarray().reshape(-1)
                    for _, f in zip(range(40), c.decode(c.streams.audio[0]), strict=False)
                ]
            )
        assert close(pixel(picture, 160, 90), COLOURS["carol"], tol=30)
        assert tone_share(samples.astype(np.float64), 48000, TONES["carol"], band=15) > 0.8
        proc.send_signal(signal.SIGTERM)  # `kill %1`, as the README stops them
        out, _ = proc.communicate(timeout=15)
    finally:
        proc.kill()
    assert proc.returncode == 0, out
    assert "sources stopped" in out
    assert port_closed(port)
