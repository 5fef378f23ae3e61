"""Scenario 8: per-stream recording (record_mode 1, remux) against the composite, CPU per stream."""

from __future__ import annotations

import logging
import os

from benchmarks.media import SOURCE_FPS, SOURCE_H, SOURCE_W, ensure_sources, serving
from benchmarks.runner import Run, _run_child, run_cloudrec
from benchmarks.scenarios import TILE, Context, Row

log = logging.getLogger(__name__)

STREAMS = 4  # a lesson: four cameras with their microphones


def run_perstream(urls: list[str], seconds: float, ctx: Context) -> Run:
    """Record every one of `urls` on its own (remuxed) for `seconds` in a child process."""
    work = ctx.work("s7-perstream")
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


def scenario_8(ctx: Context) -> list[Row]:
    paths = ensure_sources(ctx.cache, STREAMS, ctx.source_seconds)
    label = f"8: {STREAMS} × {SOURCE_W}x{SOURCE_H}p{SOURCE_FPS}"
    with serving(ctx.cache) as server:
        urls = [server.url(p, 70 + i) for i, p in enumerate(paths)]
        remux = run_perstream(urls, ctx.seconds, ctx)
        composite_cpu = ctx.cloudrec_cpu.get("veryfast")
        if composite_cpu is None:  # scenario 1 did not run: measure the 2x2 composite once here
            composite = run_cloudrec(urls, 2, TILE, "veryfast", ctx.seconds, ctx.work("s7-composite"))
            composite_cpu = composite.cpu_per_second
    per_stream = remux.cpu_per_second / STREAMS
    cores = os.cpu_count() or 1
    log.info("scenario 8: %.4f CPU-s per stream-second (composite %.3f)", per_stream, composite_cpu)
    return [
        Row(
            label,
            "cloudrec per-stream",
            "remux",
            per_stream,
            "CPU-s / output s per stream",
            remux.kbps / STREAMS,
            media_seconds=remux.media_seconds,
            note=f"{remux.extra['segments']} files, one per stream",
        ),
        Row(
            label,
            "cloudrec composite 2x2",
            "veryfast",
            composite_cpu / STREAMS,
            "CPU-s / output s per stream",
            note="the composite's CPU shared out over its streams",
        ),
        Row(label, "per-stream / composite", "-", per_stream * STREAMS / composite_cpu, "ratio (CPU)"),
        Row(
            label,
            "per-stream tasks kept up with",
            "-",
            cores / (per_stream * STREAMS),
            "tasks (CPU bound)",
            note=f"{cores} cores / the CPU of one task of {STREAMS} streams: an upper bound by CPU alone",
        ),
    ]
