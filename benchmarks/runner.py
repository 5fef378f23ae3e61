"""Run a recorder (cloudrec child or FFmpeg CLI) as a subprocess and measure its CPU with wait4."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av

log = logging.getLogger(__name__)

FFMPEG = shutil.which("ffmpeg")
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Run:
    """One measured recording."""

    engine: str  # "cloudrec" or "ffmpeg-cli"
    preset: str
    cpu: float  # CPU seconds of the recording itself (cloudrec: without interpreter start-up)
    cpu_process: float  # CPU seconds of the whole process (wait4)
    wall: float
    media_seconds: float
    output: Path | None
    size: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def cpu_per_second(self) -> float:
        return self.cpu / self.media_seconds if self.media_seconds else float("nan")

    @property
    def kbps(self) -> float:
        return self.size * 8 / 1000 / self.media_seconds if self.media_seconds else float("nan")


def _wait(cmd: list[str], log_path: Path, timeout: float) -> tuple[str, float, float, int]:
    """Run `cmd`; (stdout, process CPU seconds, wall seconds, exit status)."""
    t0 = time.monotonic()
    with log_path.open("wb") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, cwd=ROOT)
        assert proc.stdout is not None
        try:
            out = proc.stdout.read()
        finally:
            proc.stdout.close()
        deadline = t0 + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        proc.returncode = os.waitstatus_to_exitcode(status)
    return out.decode(), usage.ru_utime + usage.ru_stime, time.monotonic() - t0, proc.returncode


def run_cloudrec(
    urls: list[str],
    grid: int,
    tile: tuple[int, int],
    preset: str,
    seconds: float,
    work: Path,
    file_type: str = "mp4",
    fps: int = 30,
    crf: int = 23,
) -> Run:
    """Record `seconds` of media with cloudrec's pipeline in a child process."""
    work.mkdir(parents=True, exist_ok=True)
    job = {
        "urls": urls,
        "grid": grid,
        "tile": list(tile),
        "preset": preset,
        "crf": crf,
        "fps": fps,
        "seconds": seconds,
        "work_dir": str(work),
        "file_type": file_type,
    }
    cmd = [sys.executable, "-m", "benchmarks.child", json.dumps(job)]
    out, cpu_process, wall, rc = _wait(cmd, work / "child.log", timeout=seconds + 40)
    if rc != 0 or not out.strip():
        raise RuntimeError(f"cloudrec child failed (rc={rc}); see {work / 'child.log'}")
    result = json.loads(out.strip().splitlines()[-1])
    segments = [Path(p) for p in result["segments"]]
    return Run(
        engine="cloudrec",
        preset=preset if file_type == "mp4" else "-",
        cpu=result["cpu"],
        cpu_process=cpu_process,
        wall=wall,
        media_seconds=result["media_seconds"],
        output=segments[0] if segments else None,
        size=sum(p.stat().st_size for p in segments),
        extra={"startup": result["startup"], "segments": len(segments)},
    )


def run_ffmpeg(
    urls: list[str],
    grid: int,
    tile: tuple[int, int],
    preset: str,
    seconds: float,
    work: Path,
    fps: int = 30,
    crf: int = 23,
) -> Run:
    """The same composition with the FFmpeg CLI: xstack + amix, libx264 (no B-frames, GOP 2 s), AAC."""
    if FFMPEG is None:
        raise RuntimeError("the ffmpeg CLI is not installed")
    work.mkdir(parents=True, exist_ok=True)
    n = len(urls)
    tw, th = tile
    layout = "|".join(f"{(i % grid) * tw}_{(i // grid) * th}" for i in range(n))
    inputs = "".join(f"[{i}:v]" for i in range(n))
    ainputs = "".join(f"[{i}:a]" for i in range(n))
    graph = f"{inputs}xstack=inputs={n}:layout={layout}:fill=black[v];{ainputs}amix=inputs={n}[a]"
    output = work / "ffmpeg.mp4"
    cmd = [FFMPEG, "-hide_banner", "-nostdin", "-y"]
    for url in urls:
        cmd += ["-re", "-i", url]
    cmd += [
        "-filter_complex",
        graph,
        "-map",
        "[v]",
        "-map",
        "[a]",
        "-r",
        str(fps),
        "-c:v",
        "libx264",
        "-preset",
        preset,
        "-crf",
        str(crf),
        "-bf",
        "0",
        "-g",
        str(2 * fps),
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-b:a",
        "128k",
        "-ar",
        "48000",
        "-ac",
        "2",
        "-t",
        str(seconds),
        str(output),
    ]
    _out, cpu, wall, rc = _wait(cmd, work / "ffmpeg.log", timeout=seconds + 40)
    if rc != 0 or not output.exists():
        raise RuntimeError(f"ffmpeg failed (rc={rc}); see {work / 'ffmpeg.log'}")
    with av.open(str(output)) as c:
        media = float(c.duration or 0) / 1_000_000
    return Run("ffmpeg-cli", preset, cpu, cpu, wall, media, output, output.stat().st_size)
