"""Command line: run the chosen scenarios, print the table, write it as Markdown and JSON."""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import logging
import os
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import av
import numpy as np

from benchmarks.runner import FFMPEG
from benchmarks.scenarios import SCENARIOS, Context, Row, load, run_scenarios

log = logging.getLogger(__name__)

DEFAULT_SCENARIOS = ["1", "2", "3", "4", "4b", "5", "6"]
QUICK_SCENARIOS = ["1", "2"]


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    return match.group(1).strip() if match else "unknown"


def _x264_version() -> str:
    """The libx264 build inside PyAV, from the SEI x264 writes into its first packet."""
    with tempfile.TemporaryDirectory() as tmp, av.open(str(Path(tmp) / "v.h264"), "w", format="h264") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        frame = av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")
        data = b"".join(bytes(p) for p in stream.encode(frame.reformat(format="yuv420p")))
        data += b"".join(bytes(p) for p in stream.encode(None))
    match = re.search(rb"x264 - core (\d+)( r\d+ \w+)?", data)
    return match.group(0).decode() if match else "unknown"


def _ffmpeg_cli_version() -> str:
    if FFMPEG is None:
        return "not installed"
    out = subprocess.run([FFMPEG, "-hide_banner", "-version"], capture_output=True, text=True).stdout
    return out.splitlines()[0].split(" Copyright")[0] if out else "unknown"


def machine() -> dict[str, Any]:
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "pyav": av.__version__,
        "ffmpeg_in_pyav": av.ffmpeg_version_info,
        "x264_in_pyav": _x264_version(),
        "ffmpeg_cli": _ffmpeg_cli_version(),
        "load_average_start": load(),
    }


def _fmt(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def markdown(info: dict[str, Any], rows: list[Row], notes: list[str]) -> str:
    lines = [f"- **{k}**: {v}" for k, v in info.items()] + [""]
    lines += [
        "| scenario | engine | preset | value | unit | kbit/s | Y-PSNR dB | SSIM | media s | note |",
        "|---|---|---|---:|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.scenario} | {r.engine} | {r.preset} | {_fmt(r.value, 3)} | {r.unit} | {_fmt(r.kbps, 0)} | "
            f"{_fmt(r.psnr)} | {_fmt(r.ssim, 4)} | {_fmt(r.media_seconds, 1)} | {r.note} |"
        )
    lines += ["", "Notes:", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="a short smoke run (CI), no FFmpeg CLI comparison"
    )
    parser.add_argument(
        "--scenarios",
        default="",
        help=f"e.g. 1,2,4b (default {','.join(DEFAULT_SCENARIOS)}; --quick: {','.join(QUICK_SCENARIOS)})",
    )
    parser.add_argument(
        "--long", action="store_true", help="scenario 5 also records for 10 minutes (finish -> download)"
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out"), help="where results go")
    parser.add_argument("--cache", type=Path, default=None, help="generated sources (default: OUT/cache)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    asked = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = [s for s in asked if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; there are {', '.join(SCENARIOS)}")
    which = [s for s in SCENARIOS if s in asked] or (QUICK_SCENARIOS if args.quick else DEFAULT_SCENARIOS)
    out: Path = args.out.resolve()
    (out / "work").mkdir(parents=True, exist_ok=True)
    ctx = Context(quick=args.quick, out=out, cache=(args.cache or out / "cache").resolve(), long=args.long)
    info = machine()
    rows = run_scenarios(ctx, which)
    info["load_average_end"] = load()
    text = markdown(info, rows, ctx.notes)
    print(text)
    (out / "results.md").write_text(text)
    payload = {"machine": info, "rows": [dataclasses.asdict(r) for r in rows], "notes": ctx.notes}
    (out / "results.json").write_text(json.dumps(payload, indent=2) + "\n")
    log.info("wrote %s and %s", out / "results.md", out / "results.json")
    return 1 if any("FAILED" in n for n in ctx.notes) else 0
