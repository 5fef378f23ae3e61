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

from cloudrec.layout import Rect, crop_rects
from cloudrec.media.compositor import snap
from cloudrec.recorder.spec import CropMode

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


@dataclass(frozen=True)
class Tile:
    """One video tile of a manual layout: input `source` (an index into the URLs) drawn into the
    rectangle x, y, w, h of the canvas by `crop` (a `CropMode` value: 1 stretch, 2 fill, 3 fit)."""

    source: int
    x: int
    y: int
    w: int
    h: int
    crop: int = 1


def _run_child(job: dict[str, Any], work: Path, preset: str) -> Run:
    """Run `benchmarks.child` on `job` and read its report."""
    work.mkdir(parents=True, exist_ok=True)
    seconds: float = job["seconds"]
    cmd = [sys.executable, "-m", "benchmarks.child", json.dumps(job)]
    out, cpu_process, wall, rc = _wait(cmd, work / "child.log", timeout=seconds + 40)
    if rc != 0 or not out.strip():
        raise RuntimeError(f"cloudrec child failed (rc={rc}); see {work / 'child.log'}")
    result = json.loads(out.strip().splitlines()[-1])
    segments = [Path(p) for p in result["segments"]]
    return Run(
        engine="cloudrec",
        preset=preset,
        cpu=result["cpu"],
        cpu_process=cpu_process,
        wall=wall,
        media_seconds=result["media_seconds"],
        output=segments[0] if segments else None,
        size=sum(p.stat().st_size for p in segments),
        extra={
            "startup": result["startup"],
            "segments": len(segments),
            "skipped": result["skipped"],
            "segment_lags": result["segment_lags"],
            "maxrss_mib": result["maxrss_mib"],
            "stream_ends": result.get("stream_ends", {}),
        },
    )


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
    segment_seconds: float = 3600.0,
    vfr: bool = False,
) -> Run:
    """Record `seconds` of media with cloudrec's pipeline in a child process (`segment_seconds` long
    files; `vfr`: cloudrec's variable frame rate, else every tick encoded)."""
    job = {
        "segment_seconds": segment_seconds,
        "vfr": vfr,
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
    return _run_child(job, work, preset if file_type == "mp4" else "-")


def run_cloudrec_layout(
    urls: list[str],
    tiles: list[Tile],
    canvas: tuple[int, int],
    preset: str,
    seconds: float,
    work: Path,
    *,
    media_types: list[int] | None = None,
    audio: list[int] | None = None,
    fps: int = 30,
    crf: int = 23,
    vfr: bool = False,
) -> Run:
    """Record `seconds` of an MP4 with cloudrec's pipeline in a child process, with an explicit manual
    layout: `tiles` on a `canvas` (width, height), the audio of the inputs `audio` (default all) mixed.
    `media_types` gives each input's `MediaType` value (default camera); `vfr` as in `run_cloudrec`."""
    job = {
        "vfr": vfr,
        "urls": urls,
        "tiles": [[t.source, t.x, t.y, t.w, t.h, t.crop] for t in tiles],
        "canvas": list(canvas),
        "media_types": media_types if media_types is not None else [2] * len(urls),
        "audio": audio if audio is not None else list(range(len(urls))),
        "preset": preset,
        "crf": crf,
        "fps": fps,
        "seconds": seconds,
        "work_dir": str(work),
        "file_type": "mp4",
    }
    return _run_child(job, work, preset)


def _encode_args(preset: str, crf: int, fps: int, seconds: float, audio: bool) -> list[str]:
    """The FFmpeg CLI's output options: cloudrec's encoder settings (libx264 without B-frames, GOP 2 s,
    yuv420p; AAC 128 kbit/s 48 kHz stereo) for `seconds` of output."""
    args = ["-r", str(fps), "-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-bf", "0"]
    args += ["-g", str(2 * fps), "-pix_fmt", "yuv420p"]
    args += ["-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2"] if audio else ["-an"]
    return [*args, "-t", str(seconds)]


def _run_cli(urls: list[str], graph: str, args: list[str], preset: str, seconds: float, work: Path) -> Run:
    """Run the FFmpeg CLI on `urls` (each with -re) through `graph` (outputs [v] and, in `args`, [a])."""
    if FFMPEG is None:
        raise RuntimeError("the ffmpeg CLI is not installed")
    work.mkdir(parents=True, exist_ok=True)
    output = work / "ffmpeg.mp4"
    cmd = [FFMPEG, "-hide_banner", "-nostdin", "-y"]
    for url in urls:
        cmd += ["-re", "-i", url]
    cmd += ["-filter_complex", graph, "-map", "[v]"]
    if "-an" not in args:
        cmd += ["-map", "[a]"]
    cmd += [*args, str(output)]
    log.debug("ffmpeg command: %s", cmd)
    _out, cpu, wall, rc = _wait(cmd, work / "ffmpeg.log", timeout=seconds + 40)
    if rc != 0 or not output.exists():
        raise RuntimeError(f"ffmpeg failed (rc={rc}); see {work / 'ffmpeg.log'}")
    with av.open(str(output)) as c:
        media = float(c.duration or 0) / 1_000_000
    return Run("ffmpeg-cli", preset, cpu, cpu, wall, media, output, output.stat().st_size)


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
    n = len(urls)
    tw, th = tile
    layout = "|".join(f"{(i % grid) * tw}_{(i // grid) * th}" for i in range(n))
    inputs = "".join(f"[{i}:v]" for i in range(n))
    ainputs = "".join(f"[{i}:a]" for i in range(n))
    graph = f"{inputs}xstack=inputs={n}:layout={layout}:fill=black[v];{ainputs}amix=inputs={n}[a]"
    return _run_cli(urls, graph, _encode_args(preset, crf, fps, seconds, True), preset, seconds, work)


def layout_graph(
    tiles: list[Tile],
    sizes: list[tuple[int, int]],
    canvas: tuple[int, int],
    fps: int,
    audio: list[int],
) -> str:
    """An FFmpeg filter graph drawing `tiles` exactly as cloudrec's compositor does: a black `canvas`
    at `fps` (`color`), each input cropped and scaled (bilinear, cloudrec's scaler) into the rectangle
    that `cloudrec.layout.crop_rects` gives for its crop mode, grown to even edges as the compositor
    does (`snap`), `overlay`-ed in list order; the audio of the inputs `audio` summed (`amix`, not
    normalised: cloudrec sums too). `sizes` are the inputs' (width, height). Outputs [v] and [a].

    Not modelled (no tile of the lesson needs it): cloudrec paints a FIT tile's padding black over
    the tiles below it, and grows a 4:2:0 source crop to even edges (`crop` rounds x, y down only)."""
    width, height = canvas
    layers: list[tuple[str, Rect]] = []  # (input chain, destination)
    for tile in tiles:
        sw, sh = sizes[tile.source]
        rects = crop_rects(sw, sh, Rect(tile.x, tile.y, tile.w, tile.h), CropMode(tile.crop), width, height)
        if rects is None:
            continue
        src, dst = rects[0], snap(rects[1])
        crop = f"crop={src.w}:{src.h}:{src.x}:{src.y}," if src != Rect(0, 0, sw, sh) else ""
        layers.append((f"[{tile.source}:v]{crop}scale={dst.w}:{dst.h}:flags=bilinear", dst))
    below = "c0" if layers else "v"
    parts = [f"color=c=black:s={width}x{height}:r={fps},format=yuv420p[{below}]"]
    for k, (chain, dst) in enumerate(layers):
        above = f"c{k + 1}" if k + 1 < len(layers) else "v"
        parts.append(f"{chain}[t{k}]")
        parts.append(f"[{below}][t{k}]overlay={dst.x}:{dst.y}[{above}]")
        below = above
    if audio:
        ainputs = "".join(f"[{i}:a]" for i in audio)
        parts.append(f"{ainputs}amix=inputs={len(audio)}:normalize=0[a]")
    return ";".join(parts)


def run_ffmpeg_layout(
    urls: list[str],
    tiles: list[Tile],
    sizes: list[tuple[int, int]],
    canvas: tuple[int, int],
    preset: str,
    seconds: float,
    work: Path,
    *,
    audio: list[int] | None = None,
    fps: int = 30,
    crf: int = 23,
) -> Run:
    """The manual layout of `run_cloudrec_layout` with the FFmpeg CLI (see `layout_graph`), libx264
    (no B-frames, GOP 2 s) and AAC; `sizes` are the inputs' (width, height)."""
    mixed = audio if audio is not None else list(range(len(urls)))
    graph = layout_graph(tiles, sizes, canvas, fps, mixed)
    args = _encode_args(preset, crf, fps, seconds, bool(mixed))
    return _run_cli(urls, graph, args, preset, seconds, work)
