"""Scenario 8: per-stream recording (record_mode 1, remux) of four 720p streams against the composite."""

from __future__ import annotations

import functools
import logging
import os
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import numpy.typing as npt

from benchmarks.media import NOISE, SOURCE_FPS, U8, camera_frame, serving, tone, write_flv
from benchmarks.runner import Run, _run_child, run_cloudrec
from benchmarks.scenarios import TILE, Context, Row
from cloudrec.media.probe import media_duration

log = logging.getLogger(__name__)

STREAMS = 4  # a lesson: four cameras with their microphones
HD_W, HD_H = 1280, 720  # the "four 720p streams"
# Long enough that opening the four streams (probing decodes a few frames of each) weighs little on
# the per-second figure, which is what a recording of an hour costs.
RECORD_SECONDS, QUICK_RECORD_SECONDS = 20.0, 2.0
SOURCE_SECONDS, QUICK_SOURCE_SECONDS = 30.0, 4.0
# Concurrent four-stream tasks tried, in order, until one no longer keeps up.
DENSITY_TASKS, QUICK_DENSITY_TASKS = (1, 2, 4, 8, 16, 24, 32), (1, 2)
# A stream kept up when its last file ends within this of the task's timeline (see `stream_lags`).
MAX_LAG_SECONDS = 0.5
_STREAM_OF = re.compile(r"^bench_u\d+_\d_cam_\d{4}\.mp4$")


def ensure_hd_sources(cache: Path, count: int, seconds: float) -> list[Path]:
    """`count` camera-like 1280x720p30 FLVs (H.264 veryfast CRF 23, a keyframe every 2 s, AAC tone)."""
    cache.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = cache / f"hd{i}_{seconds:g}s_n{NOISE}.flv"
        write_flv(
            path,
            width=HD_W,
            height=HD_H,
            fps=SOURCE_FPS,
            seconds=seconds,
            picture=functools.partial(_hd_frame, source=i),
            sound=functools.partial(_tone, source=i),
        )
        paths.append(path)
    return paths


def _hd_frame(index: int, *, source: int) -> U8:
    return camera_frame(index, source, HD_W, HD_H)


def _tone(start: int, count: int, *, source: int) -> npt.NDArray[np.float32]:
    return tone(source, start, count)


def run_perstream(urls: list[str], seconds: float, work: Path) -> Run:
    """Record every one of `urls` (camera + microphone) on its own, remuxed, for `seconds`."""
    job = {
        "record_mode": 1,
        "urls": urls,
        "grid": 2,
        "tile": list(TILE),
        "preset": "-",
        "crf": 23,
        "fps": SOURCE_FPS,
        "seconds": seconds,
        "work_dir": str(work),
        "file_type": "mp4",
    }
    return _run_child(job, work, "-")


def stream_lags(run: Run) -> list[float]:
    """Per stream of a per-stream run: seconds its last file ended before the task's timeline did (a
    recorder that falls behind reads its stream slower than it plays, and its files end early, once it
    has used up the 3 s it reads ahead of a file source); inf for a stream that left no file."""
    ends: dict[str, float] = run.extra["stream_ends"]
    return [run.media_seconds - ends.get(f"u{i}", float("-inf")) for i in range(STREAMS)]


def stream_media(run: Run) -> float:
    """Media seconds in all the run's files (by demuxing them)."""
    work = run.output.parent if run.output is not None else None
    if work is None:
        return 0.0
    return sum(media_duration(p) for p in work.iterdir() if _STREAM_OF.match(p.name))


def _tasks_at_once(
    n: int, paths: list[Path], seconds: float, ctx: Context, url: Callable[[Path, int], str]
) -> list[Run]:
    """`n` per-stream tasks at once, each of its own four URLs of the sources."""
    jobs = [[url(p, 800 + 10 * k + i) for i, p in enumerate(paths)] for k in range(n)]
    works = [ctx.work(f"s8-n{n}") for _ in range(n)]
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda j: run_perstream(j[0], seconds, j[1]), zip(jobs, works, strict=True)))


def _works(runs: list[Run]) -> list[Path]:
    return [r.output.parent for r in runs if r.output is not None]


def scenario_8(ctx: Context) -> list[Row]:
    seconds = QUICK_RECORD_SECONDS if ctx.quick else RECORD_SECONDS
    paths = ensure_hd_sources(ctx.cache, STREAMS, QUICK_SOURCE_SECONDS if ctx.quick else SOURCE_SECONDS)
    label = f"8: {STREAMS} × {HD_W}x{HD_H}p{SOURCE_FPS}"
    cores = os.cpu_count() or 1
    rows: list[Row] = []
    with serving(ctx.cache) as server:
        urls = [server.url(p, 70 + i) for i, p in enumerate(paths)]
        remux = run_perstream(urls, seconds, ctx.work("s8-perstream"))
        # the composite of the same four streams: decoded, scaled to 640x360 tiles, 2x2 at 1280x720
        composite = run_cloudrec(urls, 2, TILE, "veryfast", seconds, ctx.work("s8-composite"))
        density: list[tuple[int, list[Run], float, float]] = []  # (tasks, runs, CPU/stream-s, worst lag)
        for n in QUICK_DENSITY_TASKS if ctx.quick else DENSITY_TASKS:
            runs = _tasks_at_once(n, paths, seconds, ctx, server.url)
            lag = max(lag for r in runs for lag in stream_lags(r))
            cpu = sum(r.cpu for r in runs) / max(1e-9, sum(r.media_seconds for r in runs) * STREAMS)
            density.append((n, runs, cpu, lag))
            log.info("scenario 8: %d tasks at once, %.4f CPU-s per stream-s, worst lag %.2f s", n, cpu, lag)
            if lag > MAX_LAG_SECONDS:
                break
    per_stream = remux.cpu_per_second / STREAMS
    composite_share = composite.cpu_per_second / STREAMS
    rows += [
        Row(
            label,
            "cloudrec per-stream",
            "remux",
            per_stream,
            "CPU-s / output s per stream",
            remux.size * 8 / 1000 / max(1e-9, stream_media(remux)),  # each stream's own rate
            media_seconds=remux.media_seconds,
            note=f"{remux.extra['segments']} files, one per stream; recorder peak RSS "
            f"{remux.extra['maxrss_mib']:.0f} MiB",
        ),
        Row(
            label,
            "cloudrec composite 2x2 of them",
            "veryfast",
            composite_share,
            "CPU-s / output s per stream",
            composite.kbps,
            media_seconds=composite.media_seconds,
            note="its CPU (decode 4 x 720p, scale, compose, encode 1280x720) shared over its streams",
        ),
        Row(label, "per-stream / composite", "-", per_stream / composite_share, "ratio (CPU)"),
    ]
    for n, runs, cpu, lag in density:
        rows.append(
            Row(
                f"8: density, {n} x ({STREAMS} x 720p)",
                "cloudrec per-stream",
                "remux",
                cpu,
                "CPU-s / output s per stream",
                media_seconds=min(r.media_seconds for r in runs),
                note=f"{n * STREAMS} streams at once; the worst one's files ended {lag:.2f} s before the "
                "task's timeline",
            )
        )
    kept = max((n for n, _, _, lag in density if lag <= MAX_LAG_SECONDS), default=0)
    tried = density[-1][0] if density else 0
    rows += [
        Row(
            "8: density",
            "cloudrec per-stream",
            "remux",
            kept,
            "tasks of 4 x 720p in real time",
            note=f"the largest N run at once whose every stream's files reached within {MAX_LAG_SECONDS} s "
            f"of the end{' (the largest tried)' if kept == tried else ''}",
        ),
        Row(
            "8: density",
            "cloudrec per-stream",
            "remux",
            cores / (per_stream * STREAMS),
            "tasks of 4 x 720p (CPU bound)",
            note=f"{cores} cores / the CPU of one such task: an upper bound by CPU alone",
        ),
    ]
    ctx.notes.append(
        f"scenario 8: {seconds:.0f} s recordings of {HD_W}x{HD_H}p{SOURCE_FPS} sources (H.264 veryfast "
        "CRF 23 + AAC, a keyframe every 2 s); CPU = the recorder child's own (getrusage around "
        "run_recording, start-up excluded), the stream server's (a thread of the benchmark) not counted"
    )
    return rows
