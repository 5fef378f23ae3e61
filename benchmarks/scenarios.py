"""The benchmark scenarios: each returns rows for the report table."""

from __future__ import annotations

import logging
import os
import resource
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from benchmarks.media import (
    SOURCE_FPS,
    SOURCE_H,
    SOURCE_W,
    U8,
    camera_frame,
    ensure_sources,
    luma_frames,
    rgb_frames,
    serving,
)
from benchmarks.media import quality as measure_quality
from benchmarks.runner import FFMPEG, Run, run_cloudrec, run_ffmpeg
from benchmarks.server import Server, finish_to_download
from cloudrec.media.encoder import add_video_stream

log = logging.getLogger(__name__)

TILE = (SOURCE_W, SOURCE_H)


@dataclass
class Row:
    """One line of the report table."""

    scenario: str
    engine: str
    preset: str
    value: float  # the headline figure, in `unit`
    unit: str
    kbps: float | None = None
    psnr: float | None = None
    ssim: float | None = None
    media_seconds: float | None = None
    note: str = ""


@dataclass
class Context:
    """What the scenarios share: options, the work directory and the measured cloudrec cost."""

    quick: bool
    out: Path
    cache: Path
    long: bool = False  # scenario 5 also records for 10 minutes
    notes: list[str] = field(default_factory=list)
    cloudrec_cpu: dict[str, float] = field(default_factory=dict)  # preset -> CPU-s per output s (2x2)

    @property
    def seconds(self) -> float:
        return 2.0 if self.quick else 6.0

    @property
    def source_seconds(self) -> float:
        return 3.0 if self.quick else 20.0

    def work(self, name: str) -> Path:
        path = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.out / "work"))
        return path


def _run_row(scenario: str, run: Run, note: str = "") -> Row:
    if "maxrss_mib" in run.extra:  # a cloudrec recorder process
        note = "; ".join(filter(None, [note, f"recorder peak RSS {run.extra['maxrss_mib']:.0f} MiB"]))
    return Row(
        scenario,
        run.engine,
        run.preset,
        run.cpu_per_second,
        "CPU-s / output s",
        run.kbps,
        media_seconds=run.media_seconds,
        note=note,
    )


def _decoded_sources(paths: list[Path], frames: int) -> list[list[U8]]:
    return [luma_frames(p, frames) for p in paths]


# ---- scenario 1: 720p30 2x2 ------------------------------------------------------------------------


def scenario_1(ctx: Context) -> list[Row]:
    """720p30 2x2 of four 640x360 sources: cloudrec at three presets vs the FFmpeg CLI, with quality."""
    paths = ensure_sources(ctx.cache, 4, ctx.source_seconds)
    plan: list[tuple[str, str]] = [("cloudrec", "veryfast")]
    if ctx.quick:
        ctx.notes.append("scenario 1: --quick: no FFmpeg CLI comparison, cloudrec at veryfast only")
    elif FFMPEG:
        plan.append(("ffmpeg-cli", "veryfast"))
    else:
        ctx.notes.append("scenario 1: the ffmpeg CLI is not installed: no CLI comparison")
    if not ctx.quick:
        # ABBA: each engine runs once early and once late, so a drift of the shared host over the
        # scenario (first runs tend to cost more) weighs on both alike
        plan += [("cloudrec", "ultrafast"), ("cloudrec", "superfast")]
        if FFMPEG:
            plan.append(("ffmpeg-cli", "veryfast"))
        plan.append(("cloudrec", "veryfast"))
    runs: list[Run] = []
    with serving(ctx.cache) as server:
        urls = [server.url(p, i) for i, p in enumerate(paths)]
        for engine, preset in plan:
            work = ctx.work(f"s1-{engine}-{preset}")
            if engine == "cloudrec":
                run = run_cloudrec(urls, 2, TILE, preset, ctx.seconds, work)
            else:
                run = run_ffmpeg(urls, 2, TILE, preset, ctx.seconds, work)
            log.info("scenario 1 %s %s: %.3f CPU-s/s", engine, preset, run.cpu_per_second)
            runs.append(run)
    decoded = _decoded_sources(paths, int(ctx.source_seconds * SOURCE_FPS))
    rows: list[Row] = []
    for run in runs:
        row = _run_row("1: 720p30 2x2", run)
        if run.output is not None:
            row.psnr, row.ssim = measure_quality(run.output, decoded, 2, samples=4 if ctx.quick else 10)
        rows.append(row)
    for preset in ("ultrafast", "superfast", "veryfast"):
        mine = [r.cpu_per_second for r in runs if r.engine == "cloudrec" and r.preset == preset]
        if mine:
            ctx.cloudrec_cpu[preset] = float(np.mean(mine))
    theirs = [r.cpu_per_second for r in runs if r.engine == "ffmpeg-cli"]
    if theirs and "veryfast" in ctx.cloudrec_cpu:
        ratio = ctx.cloudrec_cpu["veryfast"] / float(np.mean(theirs))
        rows.append(
            Row(
                "1: 720p30 2x2",
                "cloudrec / ffmpeg-cli",
                "veryfast",
                ratio,
                "ratio (CPU)",
                note=f"means of {len(theirs)} run(s) each, in the order cloudrec, CLI, CLI, cloudrec",
            )
        )
    startup = [r.extra.get("startup") for r in runs if r.engine == "cloudrec"]
    ctx.notes.append(
        "scenario 1: cloudrec CPU is measured inside the child around run_recording (Python start-up "
        f"excluded; whole-process CPU is {runs[0].cpu_process:.2f} s for the first run); first output "
        f"frame after {', '.join(f'{s:.2f}' for s in startup if s is not None)} s"
    )
    return rows


# ---- scenario 2: the x264 floor ---------------------------------------------------------------------


def _canvas_frames(count: int, paths: list[Path] | None) -> list[av.VideoFrame]:
    """`count` 1280x720 yuv420p mosaics of the four sources: decoded from `paths`, or raw generated."""
    decoded = [rgb_frames(p, count) for p in paths] if paths else None
    frames = []
    for i in range(count):
        tiles = (
            [decoded[s][i % len(decoded[s])] for s in range(4)]
            if decoded
            else [camera_frame(i, s) for s in range(4)]
        )
        rgb = np.concatenate([np.concatenate(tiles[:2], axis=1), np.concatenate(tiles[2:], axis=1)], axis=0)
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
        frames.append(frame)
    return frames


def _encode_cpu(frames: list[av.VideoFrame], preset: str, path: Path, paced: bool) -> tuple[float, float]:
    """(CPU seconds, output bytes) of encoding `frames` with cloudrec's libx264 settings.

    `paced`: hand the encoder one frame every 1/30 s, as a live recording does (else as fast as possible).
    """
    with av.open(str(path), "w", format="mp4") as out:
        stream = add_video_stream(out, 1280, 720, 30, preset=preset, crf=23)
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.monotonic()
        for i, frame in enumerate(frames):
            if paced:
                time.sleep(max(0.0, t0 + i / 30 - time.monotonic()))
            frame.pts, frame.time_base = i, Fraction(1, 30)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
        r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return cpu, float(path.stat().st_size)


def _decode_cpu(paths: list[Path], frames: int) -> float:
    """CPU seconds of demuxing and decoding the first `frames` video frames (and their audio) of each file."""
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    for path in paths:
        with av.open(str(path)) as c:
            done = 0
            for frame in c.decode(c.streams.video[0], c.streams.audio[0]):
                if isinstance(frame, av.VideoFrame):
                    done += 1
                    if done >= frames:
                        break
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    return (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def scenario_2(ctx: Context) -> list[Row]:
    """libx264 alone on pre-made 720p canvas frames, same settings as cloudrec; cloudrec's ratio to it."""
    count = 30 if ctx.quick else 240
    paths = None if ctx.quick else ensure_sources(ctx.cache, 4, ctx.source_seconds)
    frames = _canvas_frames(count, paths)
    seconds = count / 30
    rows = []
    plan = (
        [("veryfast", False)]
        if ctx.quick
        else [
            ("ultrafast", False),
            ("superfast", False),
            ("veryfast", False),
            ("veryfast", True),
        ]
    )
    for preset, paced in plan:
        work = ctx.work(f"s2-{preset}")
        cpu, size = _encode_cpu(frames, preset, work / "x264.mp4", paced)
        per_s = cpu / seconds
        note = "paced at 30 fps (as live)" if paced else "as fast as possible"
        mine = ctx.cloudrec_cpu.get(preset)
        if mine is not None:
            note += f"; cloudrec 2x2 / this = {mine / per_s:.2f}"
        rows.append(
            Row(
                "2: x264 floor 720p30",
                "libx264 (PyAV)",
                preset,
                per_s,
                "CPU-s / output s",
                size * 8 / 1000 / seconds,
                media_seconds=seconds,
                note=note,
            )
        )
    if paths:
        cpu = _decode_cpu(paths, count)
        rows.append(
            Row(
                "2: decode only 4x360p30",
                "h264+aac decode (PyAV)",
                "-",
                cpu / seconds,
                "CPU-s / output s",
                media_seconds=seconds,
                note="the four sources one after another, as fast as possible (PyAV default threading)",
            )
        )
    if not ctx.cloudrec_cpu:
        ctx.notes.append("scenario 2: run with scenario 1 to get cloudrec's ratio to the floor")
    source = (
        "raw generated frames (no source compression)" if ctx.quick else "the decoded sources of scenario 1"
    )
    ctx.notes.append(
        f"scenario 2: canvas frames are mosaics of {source}, made before timing; encoded "
        "in-process with cloudrec's encoder settings (CPU via getrusage(RUSAGE_SELF))"
    )
    return rows


# ---- scenario 3: density ----------------------------------------------------------------------------

DENSITY_SEGMENT_SECONDS = 5.0
LATE_SEGMENT_SECONDS = 2.0  # a segment whose file is ready later than this after its media ended


def scenario_3(ctx: Context) -> list[Row]:
    """N concurrent live 720p30 2x2 veryfast recordings, N = 1, 2, ... until one skips frames."""
    paths = ensure_sources(ctx.cache, 4, ctx.source_seconds)
    seconds = ctx.seconds if ctx.quick else min(ctx.source_seconds - 2, 3 * DENSITY_SEGMENT_SECONDS + 1)
    rows = []
    limit = 2 if ctx.quick else 8
    kept = 0
    with serving(ctx.cache) as server:
        for n in range(1, limit + 1):
            jobs = [[server.url(p, 1000 * (k + 1) + i) for i, p in enumerate(paths)] for k in range(n)]
            works = [ctx.work(f"s3-n{n}") for _ in range(n)]
            with ThreadPoolExecutor(n) as pool:
                runs = list(
                    pool.map(
                        lambda job: run_cloudrec(
                            job[0],
                            2,
                            TILE,
                            "veryfast",
                            seconds,
                            job[1],
                            segment_seconds=DENSITY_SEGMENT_SECONDS,
                        ),
                        zip(jobs, works, strict=True),
                    )
                )
            skipped = [int(r.extra["skipped"]) for r in runs]
            ticks = [round(r.media_seconds * 30) for r in runs]
            worst = max(s / t if t else 1.0 for s, t in zip(skipped, ticks, strict=True))
            lags = [lag for r in runs for lag in r.extra["segment_lags"]]
            late = sum(1 for lag in lags if lag > LATE_SEGMENT_SECONDS)
            cpu = sum(r.cpu for r in runs) / max(r.media_seconds for r in runs)
            rows.append(
                Row(
                    f"3: density, {n} x 720p 2x2",
                    "cloudrec",
                    "veryfast",
                    100 * worst,
                    "% frames skipped (worst)",
                    media_seconds=min(r.media_seconds for r in runs),
                    note=f"{cpu:.2f} CPU-s per output s in all; skipped frames per recording: {skipped}; "
                    f"segments closed {len(lags)}, late {late}, slowest {max(lags, default=0):.2f} s "
                    "after its media ended",
                )
            )
            log.info("scenario 3: %d recordings, worst %.2f %% skipped", n, 100 * worst)
            if worst >= 0.001 or late:
                break
            kept = n
    rows.append(
        Row(
            "3: density",
            "cloudrec",
            "veryfast",
            kept,
            "recordings in real time",
            note="the largest N with < 0.1 % frames skipped and no late segment",
        )
    )
    ctx.notes.append(
        f"scenario 3: {seconds:.0f} s recordings in {DENSITY_SEGMENT_SECONDS:.0f} s segments; skipped = "
        "output ticks the recorder left without a picture because it fell behind (it keeps the timeline "
        "and skips pictures; its own count, as variable frame rate makes counting frames in the file "
        f"meaningless); a segment is late when its file is closed more than {LATE_SEGMENT_SECONDS:.0f} s "
        "after its media ended; N grows until a recording skips >= 0.1 % or a segment is late"
    )
    return rows


# ---- scenario 4: 1080p30 3x3 and MP3 ------------------------------------------------------------


def scenario_4(ctx: Context) -> list[Row]:
    """1080p30 3x3 (nine 640x360 tiles at 1:1) at veryfast, and an MP3-only mix of four sources."""
    paths = ensure_sources(ctx.cache, 4, ctx.source_seconds)
    rows = []
    with serving(ctx.cache) as server:
        urls9 = [server.url(paths[i % len(paths)], i) for i in range(9)]
        run = run_cloudrec(urls9, 3, TILE, "veryfast", ctx.seconds, ctx.work("s4-3x3"))
        rows.append(_run_row("4: 1080p30 3x3", run))
        if FFMPEG and not ctx.quick:
            run = run_ffmpeg(urls9, 3, TILE, "veryfast", ctx.seconds, ctx.work("s4-3x3-ffmpeg"))
            rows.append(_run_row("4: 1080p30 3x3", run))
        urls4 = [server.url(p, i) for i, p in enumerate(paths)]
        run = run_cloudrec(urls4, 2, TILE, "-", ctx.seconds, ctx.work("s4-mp3"), file_type="mp3")
        rows.append(_run_row("4: MP3 mix of 4", run))
    if len(rows) > 1 and rows[1].engine == "ffmpeg-cli":
        rows.insert(
            2,
            Row(
                "4: 1080p30 3x3",
                "cloudrec / ffmpeg-cli",
                "veryfast",
                rows[0].value / rows[1].value,
                "ratio (CPU)",
                note="one run each",
            ),
        )
    return rows


# ---- scenario 5: finish -> downloadable -----------------------------------------------------------


def scenario_5(ctx: Context) -> list[Row]:
    """A real `cloudrec serve`: time from `finish` to status 6 and to the first file downloaded."""
    paths = ensure_sources(ctx.cache, 4, ctx.source_seconds)
    lengths = [2.0] if ctx.quick else [10.0, 60.0] + ([600.0] if ctx.long else [])
    rows = []
    with serving(ctx.cache) as streams:
        server = Server(ctx.work("s5-server"))
        try:
            server.login("bench")
            for n, seconds in enumerate(lengths):
                urls = [streams.url(p, 100 * (n + 1) + i, loop=True) for i, p in enumerate(paths)]
                t = finish_to_download(server, urls, seconds, f"g{n}")
                label = (
                    f"5: finish->done ({seconds / 60:.0f} min rec)"
                    if seconds >= 60
                    else (f"5: finish->done ({seconds:.0f} s rec)")
                )
                note = (
                    f"finish replied in {t['finish_reply']:.2f} s; first file downloaded after "
                    f"{t['finish_to_downloaded']:.2f} s ({t['bytes'] / 1e6:.1f} MB)"
                )
                rows.append(
                    Row(
                        label,
                        "cloudrec serve",
                        "veryfast",
                        t["finish_to_done"],
                        "s (finish -> status 6)",
                        media_seconds=t["media_duration"],
                        note=note,
                    )
                )
        finally:
            server.stop()
    ctx.notes.append(
        "scenario 5: local storage, SQLite, auto 2x2 720p30 of the four sources (looped without end), "
        "one file each (file_duration default, 60 min), status polled every 20 ms"
        + ("" if ctx.long or ctx.quick else "; the 10-minute recording needs --long")
    )
    return rows


def scenario_4b(ctx: Context) -> list[Row]:
    """A lesson: screen share + three 15 fps cameras, main+subs on 1080p30 (see benchmarks.lesson)."""
    from benchmarks.lesson import scenario_4b as lesson  # imports this module: import it late

    return lesson(ctx)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def scenario_6(ctx: Context) -> list[Row]:
    """Control-plane latency under load with many tasks (see benchmarks.control)."""
    from benchmarks.control import scenario_6 as control  # imports this module: import it late

    return control(ctx)


def scenario_7(ctx: Context) -> list[Row]:
    """Start request -> first picture, publish -> first picture, against a live media server."""
    from benchmarks.start import measure, summary

    starts, joins = (3, 2) if ctx.quick else (20, 10)
    figures = measure(ctx.work("s7"), starts, joins)
    rows = []
    for key, label in (
        ("auto", "7: init -> first picture (auto)"),
        ("manual", "7: set/layout -> first picture (manual)"),
        ("join", "7: publish -> first picture (running)"),
    ):
        values = sorted(figures[key])
        rows.append(
            Row(label, "cloudrec serve", "veryfast", statistics.median(values), "s (file time, p50)",
                note=f"{summary(values)} over {len(values)}")
        )  # fmt: skip
    ctx.notes.append(
        "scenario 7: node-media-server (its cached GOP) and publishers from tests/support, 320x180@15 "
        "auto or manual tasks of 1.5 s; the first start of each kind right after the server started"
    )
    return rows


def scenario_8(ctx: Context) -> list[Row]:
    """Per-stream recording (remux) against the composite (see benchmarks.perstream)."""
    from benchmarks.perstream import scenario_8 as perstream  # imports this module: import it late

    return perstream(ctx)


def scenario_9(ctx: Context) -> list[Row]:
    """Recorder crash -> the successor's first picture; kill -9 of the server -> the gap in the file."""
    from benchmarks.durability import measure, p50_max

    kills, restarts = (2, 1) if ctx.quick else (10, 3)
    figures = measure(ctx.work("s9"), kills, restarts)
    crash, restart = figures["crash"], figures["restart"]
    pictures, gaps = sorted(crash["picture"]), sorted(crash["gap"])
    ctx.notes.append(
        "scenario 9: node-media-server and a publisher from tests/support, one 320x180@15 auto task per "
        "part, a real `cloudrec serve` (SQLite, local storage); a gap runs from the end of the media the "
        "dead recorder's file kept (its last fragment) to the successor's start"
    )
    return [
        Row("9: recorder kill -9 -> successor's first picture", "cloudrec serve", "veryfast",
            statistics.median(pictures), "s (p50)",
            note=f"{p50_max(pictures)} over {len(pictures)} kills; gap in the files {p50_max(gaps)}"),
        Row("9: serve kill -9, new one 3 s later -> gap in the file", "cloudrec serve", "veryfast",
            restart["largest_step"], "s (largest frame step - 1 frame)",
            media_seconds=restart["media"],
            note=f"{restarts} restarts; task gaps {restart['gaps']:.0f}, files {restart['files']:.0f}, "
            f"media {restart['media']:.2f} s over {restart['wall']:.2f} s from init to finish"),
    ]  # fmt: skip


def scenario_10(ctx: Context) -> list[Row]:
    """A command through API server B -> A's recorder, on one PostgreSQL (see benchmarks.relay)."""
    from benchmarks.durability import p50_max
    from benchmarks.relay import measure

    url = os.environ.get("CLOUDREC_BENCH_DATABASE_URL", "")
    if not url.startswith("postgres"):
        ctx.notes.append("scenario 10: skipped, no PostgreSQL database in CLOUDREC_BENCH_DATABASE_URL")
        return []
    values = sorted(measure(ctx.work("s10"), url, 4 if ctx.quick else 20))
    return [
        Row("10: command via server B -> A's recorder (PostgreSQL)", "cloudrec serve", "-",
            statistics.median(values), "s (p50)",
            note=f"{p50_max(values)} over {len(values)} suspend/resume; LISTEN/NOTIFY, polling as fallback"),
    ]  # fmt: skip


def scenario_11(ctx: Context) -> list[Row]:
    """Cluster mode on a local Ray cluster (see benchmarks.cluster; needs the `cluster` extra)."""
    from benchmarks.cluster import scenario_11 as cluster

    return cluster(ctx)


SCENARIOS = {
    "1": scenario_1,
    "2": scenario_2,
    "3": scenario_3,
    "4": scenario_4,
    "4b": scenario_4b,
    "5": scenario_5,
    "6": scenario_6,
    "7": scenario_7,
    "8": scenario_8,
    "9": scenario_9,
    "10": scenario_10,
    "11": scenario_11,
}


def run_scenarios(ctx: Context, which: list[str]) -> list[Row]:
    rows: list[Row] = []
    if {"1", "2", "3", "4", "5", "6", "8"} & set(which) and not (ctx.quick and which == ["2"]):
        t0 = time.monotonic()
        ensure_sources(ctx.cache, 4, ctx.source_seconds)
        ctx.notes.append(
            f"sources ready in {time.monotonic() - t0:.0f} s (generated once, cached in {ctx.cache})"
        )
    for n in which:
        fn = SCENARIOS.get(n)
        if fn is None:
            ctx.notes.append(f"scenario {n}: not implemented")
            continue
        before, t0 = load(), time.monotonic()
        log.info("scenario %s (load %s)", n, before)
        try:
            rows += fn(ctx)
        except Exception as exc:
            log.exception("scenario %s failed", n)
            ctx.notes.append(f"scenario {n}: FAILED: {exc}")
        ctx.notes.append(
            f"scenario {n}: {time.monotonic() - t0:.0f} s wall, load average {before} -> {load()}"
        )
    return rows
