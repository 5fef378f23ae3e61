"""`cloudrec demo` as a newcomer runs it: a subprocess against a real server, its downloaded file decoded.

Also Ctrl-C (the sources stop, the recording is finished, the streams unpublished), `--serve-sources`,
and what each failure tells the user to do.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest
from api.harness import DatabaseFactory, LiveServer, Tenant, start_server
from PIL import Image
from sqlalchemy import select
from support.decode import audio_samples, close, media_duration, pixel, tone_share, video_frames
from typer.testing import CliRunner, Result

from cloudrec.cli import app as cli
from cloudrec.db.migrate import upgrade
from cloudrec.db.models import Developer
from cloudrec.demo.client import Client, DemoError
from cloudrec.demo.sources import BALL_TOP, DEMO_SOURCES, FPS, SIZE, Picture, SourceServer
from cloudrec.layout import equal_grid

W, H = 640, 360  # the demo's canvas
COLOURS = {s.name: s.color for s in DEMO_SOURCES}
TONES = {s.name: s.tone_hz for s in DEMO_SOURCES}
# Real-time server settings: sources that fail are noticed fast; one recording at a time is enough.
SERVER_SETTINGS: dict[str, Any] = {
    "source_open_timeout_s": 3.0,
    "source_read_timeout_s": 1.0,
    "max_recordings": 2,
}
RUN_TIMEOUT_S = 60.0
SOURCE_URL = re.compile(r"http://127\.0\.0\.1:(\d+)/alice\.flv")


@pytest.fixture
def server(databases: DatabaseFactory, tmp_path: Path) -> Iterator[LiveServer]:
    live = start_server(tmp_path / "data", databases.new_url(), real_time=True, **SERVER_SETTINGS)
    try:
        yield live
    finally:
        live.stop()


def demo_command(server: LiveServer, *args: str, data_dir: Path | None = None) -> list[str]:
    data_dir = data_dir or server.settings.data_dir
    return [
        sys.executable,
        "-m",
        "cloudrec",
        "demo",
        "--url",
        server.base_url,
        "--data-dir",
        str(data_dir),
        *args,
    ]


def demo_env(server: LiveServer) -> dict[str, str]:
    """The server's database for the demo (a test server's SQLite file lies outside its data dir)."""
    return {**os.environ, "CLOUDREC_DATABASE_URL": server.settings.database_url}


def run_demo(server: LiveServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        demo_command(server, *args),
        env=demo_env(server),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )


def demo_tenant(server: LiveServer) -> Tenant:
    """A client of the developer and app the demo made."""
    with server.ctx.sessions() as s:
        secret = s.scalar(select(Developer.secret).where(Developer.dev_id == "demo"))
    assert secret is not None, "the demo made no developer"
    return server.tenant_of("demo", secret, "demo")


def port_closed(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2.0)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def group_streams(tenant: Tenant, group_id: str) -> int:
    reply = tenant.get("/v1/group/stream/list", group_id=group_id)
    assert reply["code"] == 0, reply
    count: int = reply["total_num"]
    return count


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


# ---- what a failure says (in-process: the same command, without a Python start-up each) ----------


def failure(server_url: str, data_dir: Path, database_url: str | None = None) -> Result:
    """`cloudrec demo` that must fail with a reason and what to do."""
    env = {"CLOUDREC_DATABASE_URL": database_url}  # None: unset, the data dir's SQLite file
    args = ["demo", "--url", server_url, "--data-dir", str(data_dir), "--out", str(data_dir / "out")]
    r = CliRunner().invoke(cli, args, env=env)
    assert r.exit_code == 1, r.output
    assert re.search(r"^error: .+\nwhat to do: .+", r.stderr, re.M), r.stderr
    return r


def test_without_a_server_it_says_how_to_start_one(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once closed
    err = failure(f"http://127.0.0.1:{port}", tmp_path).stderr
    assert f"no server at http://127.0.0.1:{port}" in err
    assert "python3 make.py serve" in err


def test_a_url_that_is_not_cloudrec_is_named(tmp_path: Path) -> None:
    with SourceServer() as other:  # a real HTTP server that is not cloudrec
        err = failure(f"http://127.0.0.1:{other.port}", tmp_path).stderr
    assert "not a cloudrec reply" in err and "HTTP 404" in err


def test_a_server_that_hangs_up_is_named(tmp_path: Path) -> None:
    with socket.socket() as listener:  # accepts, then closes every connection without a word
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        def hang_up() -> None:
            with contextlib.suppress(OSError):
                while True:
                    listener.accept()[0].close()

        threading.Thread(target=hang_up, daemon=True).start()
        err = failure(f"http://127.0.0.1:{port}", tmp_path).stderr
    assert f"GET /access/token on http://127.0.0.1:{port} failed" in err
    assert "check that the server is running" in err


def test_a_data_dir_without_the_servers_database_is_named(server: LiveServer, tmp_path: Path) -> None:
    empty = tmp_path / "elsewhere"  # no database at all there
    err = failure(server.base_url, empty).stderr
    assert f"no cloudrec database at {(empty / 'cloudrec.db').resolve()}" in err
    assert "--data-dir" in err
    (empty / "cloudrec.db").parent.mkdir()
    (empty / "cloudrec.db").touch()  # a database, with no tables
    err = failure(server.base_url, empty).stderr
    assert "has no cloudrec tables" in err and "--data-dir" in err
    (empty / "cloudrec.db").write_bytes(b"not a database" * 100)
    err = failure(server.base_url, empty).stderr
    assert "cannot use the database" in err and "file is not a database" in err
    other = tmp_path / "other"  # a database, but not the server's: the server does not know the demo
    other.mkdir()
    upgrade(f"sqlite:///{other / 'cloudrec.db'}")
    err = failure(server.base_url, other).stderr
    assert "6050030028" in err and "uses another database" in err and "--data-dir" in err


def test_an_app_id_taken_by_another_developer_is_named(server: LiveServer) -> None:
    dev_id, _ = server.add_developer()
    server.add_app(dev_id, "demo")
    err = failure(server.base_url, server.settings.data_dir, server.settings.database_url).stderr
    assert f"the app id 'demo' belongs to developer {dev_id!r}" in err


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"max_recordings": 0}, ["6050030009", "CLOUDREC_MAX_RECORDINGS"]),
        ({"allowed_url_schemes": ["rtmp"]}, ["6050030003", "CLOUDREC_ALLOWED_URL_SCHEMES"]),
        ({"min_free_disk_mb": 10**12}, ["6050030008", "CLOUDREC_MIN_FREE_DISK_MB"]),
    ],
    ids=["no recorder free", "http sources refused", "disk full"],
)
def test_a_refusal_of_the_server_says_what_to_change_and_undoes_the_demo(
    databases: DatabaseFactory, tmp_path: Path, settings: dict[str, Any], expected: list[str]
) -> None:
    live = start_server(
        tmp_path / "data", databases.new_url(), real_time=True, **{**SERVER_SETTINGS, **settings}
    )
    try:
        r = failure(live.base_url, live.settings.data_dir, live.settings.database_url)
        assert all(e in r.stderr for e in expected), r.stderr
        assert "created dev_id=demo app_id=demo" in r.stdout
        port, group = SOURCE_URL.search(r.stdout), re.search(r"into group (\S+)", r.stdout)
        assert port and group, r.stdout
        assert port_closed(int(port[1]))
        assert group_streams(demo_tenant(live), group[1]) == 0  # what it published is unpublished
        if "max_recordings" in settings:  # a second run finds the developer and app of the first,
            r = failure(live.base_url, live.settings.data_dir, live.settings.database_url)
            assert "reused dev_id=demo app_id=demo" in r.stdout  # and signs in with the stored secret
            assert expected[0] in r.stderr
    finally:
        live.stop()


def test_a_sources_port_in_use_is_named() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = CliRunner().invoke(cli, ["demo", "--serve-sources", "--sources-port", str(port)])
    assert r.exit_code == 1, r.output
    assert f"cannot listen on 127.0.0.1:{port}" in r.stderr and "--sources-port" in r.stderr


def test_a_download_that_fails_or_differs_from_its_md5_is_refused(tmp_path: Path) -> None:
    client = Client("http://127.0.0.1:1", "demo")
    with SourceServer() as http:  # a real HTTP server: 404 for an unknown path, a listing at /
        with pytest.raises(DemoError, match="answered HTTP 404"):
            client.download(f"http://127.0.0.1:{http.port}/nope", tmp_path / "a.mp4", "0" * 32)
        with pytest.raises(DemoError, match=r"a\.mp4: md5 [0-9a-f]{32}, the API said 0{32}"):
            client.download(f"http://127.0.0.1:{http.port}/", tmp_path / "a.mp4", "0" * 32)
        listing = httpx.get(f"http://127.0.0.1:{http.port}/").content
        size = client.download(
            f"http://127.0.0.1:{http.port}/", tmp_path / "a.mp4", hashlib.md5(listing).hexdigest()
        )
    assert size == len(listing) and (tmp_path / "a.mp4").read_bytes() == listing
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4"]  # no partial file left behind


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--url", "127.0.0.1:28000"], "--url"),
        (["--phase-s", "0.1"], "--phase-s"),
        (["--pause-s", "61"], "--pause-s"),
    ],
)
def test_a_bad_option_is_refused_naming_it(args: list[str], named: str) -> None:
    r = CliRunner().invoke(cli, ["demo", *args])
    assert r.exit_code == 2, r.output
    assert named in r.stderr and "Invalid value" in r.stderr, r.stderr
