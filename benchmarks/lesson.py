"""Scenario 4b, a lesson: a slide screen share and three cameras, main + subs at 1080p30, cloudrec vs CLI."""

from __future__ import annotations

import functools
import hashlib
import logging
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from benchmarks.media import (
    NOISE,
    SAMPLE_RATE,
    U8,
    camera_frame,
    luma_at,
    serving,
    ssim,
    video_packets,
    write_flv,
    y_plane,
)
from benchmarks.runner import FFMPEG, Run, Tile, run_cloudrec_layout, run_ffmpeg_layout
from benchmarks.scenarios import Context, Row
from cloudrec.layout import Rect, crop_rects, main_and_subs
from cloudrec.media.captions import font
from cloudrec.media.compositor import snap
from cloudrec.recorder.spec import CropMode, MediaType

log = logging.getLogger(__name__)

LABEL = "4b: lesson 1080p30 main+subs"
CANVAS = (1920, 1080)
FPS = 30
PRESET = "veryfast"
SHARE_W, SHARE_H = 1280, 720
CAMERA_W, CAMERA_H = 640, 360
SOURCE_FPS = 15  # the share and the cameras
CAMERAS = 3
SLIDE_SECONDS = 10.0
SHARE_CROP = CropMode.FIT  # a slide is never cut: letterboxed into the 4:3 main tile
CAMERA_CROP = CropMode.FILL  # the automatic layouts' default (16:9 cameras in 16:9 subs: no crop)
VOICE_PITCH = (115.0, 205.0, 165.0)  # Hz: the teacher and two students

PAPER = (246, 245, 239)
INK = (38, 40, 46)
ACCENTS = ((31, 96, 168), (176, 64, 40), (40, 128, 84), (120, 72, 150))
SLIDES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Fractions: what they mean",
        ("A fraction is a part of a whole", "3/4: three of four equal parts", "Top: numerator"),
    ),
    (
        "Adding fractions",
        ("Same denominator: add the tops", "1/5 + 2/5 = 3/5", "Otherwise: find a common one"),
    ),
    ("Common denominators", ("1/2 + 1/3 = 3/6 + 2/6", "= 5/6", "Least common multiple of 2, 3")),
    ("Practice", ("2/3 + 1/6 = ?", "3/4 - 1/8 = ?", "Show your working")),
)


# ---- sources ------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def slide(index: int) -> U8:
    """Slide `index` as a 1280x720 rgb24 picture: a coloured title bar, three lines of large text, a
    bar chart and the page number on a light background (the same array object for the same slide)."""
    title, lines = SLIDES[index % len(SLIDES)]
    accent = ACCENTS[index % len(ACCENTS)]
    image = Image.new("RGB", (SHARE_W, SHARE_H), PAPER)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, SHARE_W, 112), fill=accent)
    draw.text((56, 22), title, font=font(60), fill=(255, 255, 255))
    for j, line in enumerate(lines):
        draw.ellipse((64, 192 + j * 96, 84, 212 + j * 96), fill=accent)
        draw.text((108, 172 + j * 96), line, font=font(44), fill=INK)
    for j in range(4):  # a small bar chart, different on every slide
        height = 60 + ((index * 7 + j * 5) % 9) * 22
        x0 = 860 + j * 92
        draw.rectangle((x0, 620 - height, x0 + 64, 620), fill=ACCENTS[(index + j) % len(ACCENTS)])
    draw.line((840, 622, 1230, 622), fill=INK, width=4)
    draw.text((SHARE_W - 110, SHARE_H - 64), f"{index + 1}", font=font(36), fill=(120, 120, 120))
    return np.asarray(image, np.uint8)


def share_picture(index: int) -> U8:
    """Frame `index` of the screen share: the slide shown then (a new one every SLIDE_SECONDS)."""
    return slide(int(index / SOURCE_FPS // SLIDE_SECONDS))


def voice(source: int, start: int, count: int) -> npt.NDArray[np.float32]:
    """`count` mono samples from sample `start` of a voice-like sound: a harmonic buzz whose pitch
    glides (intonation), cut into syllables (~4.5 per second) and phrases (2.5 s talk, 0.7 s pause)."""
    t = (start + np.arange(count)) / SAMPLE_RATE
    base = VOICE_PITCH[source % len(VOICE_PITCH)]
    glide, depth = 0.7, 0.08  # the pitch moves +-8 % at 0.7 Hz; the phase is its exact integral
    phase = 2 * np.pi * base * (t - depth / (2 * np.pi * glide) * np.cos(2 * np.pi * glide * t + source))
    buzz = sum(np.sin(k * phase) / k for k in range(1, 6))
    syllables = np.sin(np.pi * 4.5 * t + source) ** 2
    talking = ((t + 1.1 * source) % 3.2) < 2.5
    return (0.12 * buzz * syllables * talking).astype(np.float32)


def ensure_lesson_sources(cache: Path, seconds: float) -> tuple[Path, list[Path]]:
    """(screen share, cameras) of `seconds` each, generated once into `cache`.

    The share is what a screen share sends: H.264 1280x720 at 15 fps (veryfast, CRF 23, keyframe every
    2 s, no B-frames) and no audio track. The cameras are 640x360 at 15 fps with sensor noise, and AAC.
    """
    cache.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha1(f"lesson-v1-{seconds}-{SLIDE_SECONDS}-{NOISE}".encode()).hexdigest()[:8]
    share = cache / f"share_{key}.flv"
    write_flv(
        share,
        width=SHARE_W,
        height=SHARE_H,
        fps=SOURCE_FPS,
        seconds=seconds,
        picture=share_picture,
        sound=None,
    )
    cameras = [cache / f"lessoncam{i}_{key}.flv" for i in range(CAMERAS)]
    for i, path in enumerate(cameras):
        write_flv(
            path,
            width=CAMERA_W,
            height=CAMERA_H,
            fps=SOURCE_FPS,
            seconds=seconds,
            picture=functools.partial(_camera_picture, i),
            sound=functools.partial(voice, i),
        )
    return share, cameras


def _camera_picture(source: int, index: int) -> U8:
    return camera_frame(index, source, CAMERA_W, CAMERA_H, fps=SOURCE_FPS)


# ---- layout -------------------------------------------------------------------------------------


def lesson_tiles() -> list[Tile]:
    """cloudrec's main + subs rects for four tiles on the canvas: the share (input 0) as the main tile,
    the cameras (inputs 1-3) as the subs."""
    rects = main_and_subs(1 + CAMERAS, *CANVAS)
    return [
        Tile(i, r.x, r.y, r.w, r.h, int(SHARE_CROP if i == 0 else CAMERA_CROP)) for i, r in enumerate(rects)
    ]


def share_area(tile: Tile) -> Rect:
    """Where the share is drawn on the canvas (its crop mode's rect, grown to even edges as drawn)."""
    rects = crop_rects(SHARE_W, SHARE_H, Rect(tile.x, tile.y, tile.w, tile.h), CropMode(tile.crop), *CANVAS)
    if rects is None:
        raise ValueError("the share is not visible")
    return snap(rects[1])


# ---- measurements -------------------------------------------------------------------------------


def slide_references(share: Path, area: Rect, limit: int = 64) -> list[npt.NDArray[np.float64]]:
    """The distinct decoded pictures of the share source (every change: a new slide or a keyframe),
    scaled like the recorders scale them (bilinear) to `area`'s size, as Y planes."""
    refs: list[npt.NDArray[np.float64]] = []
    previous: U8 | None = None
    with av.open(str(share)) as c:
        for frame in c.decode(c.streams.video[0]):
            y = y_plane(frame)
            if previous is not None and np.array_equal(y, previous):
                continue
            previous = y.copy()
            scaled = frame.reformat(width=area.w, height=area.h, format="yuv420p", interpolation="BILINEAR")
            refs.append(y_plane(scaled).astype(np.float64))
            if len(refs) >= limit:
                break
    return refs


def share_quality(
    output: Path, refs: list[npt.NDArray[np.float64]], area: Rect, media_seconds: float, samples: int
) -> tuple[float, float]:
    """(Y-PSNR dB, SSIM) of the share's area in `output` at `samples` times from 1 s on, each against
    the best-fitting decoded source picture (timing between engines differs around slide changes)."""
    end = max(1.0, media_seconds - 0.5)
    times = [float(t) for t in np.linspace(min(1.0, end), end, samples)]
    mses, ssims = [], []
    for y in luma_at(output, times):
        region = y[area.y : area.bottom, area.x : area.right].astype(np.float64)
        errors = [float(((region - ref) ** 2).mean()) for ref in refs]
        best = int(np.argmin(errors))
        mses.append(errors[best])
        ssims.append(ssim(region, refs[best]))
    mse = float(np.mean(mses))
    return (99.0 if mse == 0 else float(10 * np.log10(255**2 / mse))), float(np.mean(ssims))


def _row(run: Run, frames: int, keys: int, quality: tuple[float, float] | None) -> Row:
    per_second = frames / run.media_seconds if run.media_seconds else float("nan")
    behind = run.extra.get("skipped")
    skipped = f", {behind} ticks skipped behind" if behind is not None else ""
    return Row(
        LABEL,
        run.engine,
        run.preset,
        run.cpu_per_second,
        "CPU-s / output s",
        run.kbps,
        psnr=quality[0] if quality else None,
        ssim=quality[1] if quality else None,
        media_seconds=run.media_seconds,
        note=f"{frames} video frames ({per_second:.1f}/s{skipped}), {keys} keyframes; wall {run.wall:.1f} s",
    )


# ---- the scenario -------------------------------------------------------------------------------


VFR = "cloudrec, variable frame rate"  # the opt-in CLOUDREC_VARIABLE_FRAME_RATE=true: what it saves


def scenario_4b(ctx: Context) -> list[Row]:
    """A lesson: the share as main and three cameras as subs on a 1080p30 canvas, cloudrec and the
    FFmpeg CLI in the order cloudrec, CLI, CLI, cloudrec, with frame counts and the share's quality."""
    seconds = 3.0 if ctx.quick else 20.0
    share, cameras = ensure_lesson_sources(ctx.cache, 6.0 if ctx.quick else 30.0)
    tiles = lesson_tiles()
    sizes = [(SHARE_W, SHARE_H)] + [(CAMERA_W, CAMERA_H)] * CAMERAS
    types = [int(MediaType.SCREEN)] + [int(MediaType.CAMERA)] * CAMERAS
    audio = list(range(1, 1 + CAMERAS))  # the share has no audio track
    plan = ["cloudrec"]
    if ctx.quick:
        ctx.notes.append("scenario 4b: --quick: 3 s, cloudrec only (no FFmpeg CLI comparison)")
    elif FFMPEG:
        plan = ["cloudrec", "ffmpeg-cli", VFR, "ffmpeg-cli", "cloudrec"]  # ABBA, as in scenario 1
    else:
        ctx.notes.append("scenario 4b: the ffmpeg CLI is not installed: no CLI comparison")
    runs: list[Run] = []
    with serving(ctx.cache) as server:
        urls = [server.url(share, 400)] + [server.url(p, 401 + i) for i, p in enumerate(cameras)]
        for engine in plan:
            work = ctx.work(f"s4b-{engine}")
            if engine != "ffmpeg-cli":
                vfr = engine == VFR
                run = run_cloudrec_layout(
                    urls,
                    tiles,
                    CANVAS,
                    PRESET,
                    seconds,
                    work,
                    media_types=types,
                    audio=audio,
                    fps=FPS,
                    vfr=vfr,
                )
                run.engine = engine
            else:
                run = run_ffmpeg_layout(
                    urls, tiles, sizes, CANVAS, PRESET, seconds, work, audio=audio, fps=FPS
                )
            log.info("scenario 4b %s: %.3f CPU-s/s", engine, run.cpu_per_second)
            runs.append(run)
    area = share_area(tiles[0])
    refs = slide_references(share, area)
    samples = 3 if ctx.quick else 8
    rows = []
    for run in runs:
        if run.output is None:
            rows.append(_row(run, 0, 0, None))
            continue
        frames, keys = video_packets(run.output)
        quality = share_quality(run.output, refs, area, run.media_seconds, samples)
        rows.append(_row(run, frames, keys, quality))
    mine = [r.cpu_per_second for r in runs if r.engine == "cloudrec"]
    theirs = [r.cpu_per_second for r in runs if r.engine == "ffmpeg-cli"]
    if mine and theirs:
        rows.append(
            Row(
                LABEL,
                "cloudrec / ffmpeg-cli",
                PRESET,
                float(np.mean(mine)) / float(np.mean(theirs)),
                "ratio (CPU)",
                note=f"means of {len(theirs)} run(s) each, in the order cloudrec, CLI, CLI, cloudrec",
            )
        )
    subs = tiles[1]
    ctx.notes += [
        f"scenario 4b: sources: a screen share of slides, H.264 {SHARE_W}x{SHARE_H} at {SOURCE_FPS} fps "
        f"(veryfast, CRF 23, keyframe every 2 s, no B-frames; a new slide every {SLIDE_SECONDS:.0f} s, "
        "identical frames in between, so P-frames are skip blocks) with no audio track, as a screen "
        f"share carries none (voices come with the cameras); {CAMERAS} cameras {CAMERA_W}x{CAMERA_H} at "
        f"{SOURCE_FPS} fps (moving shapes, sensor noise) with AAC voice-like sound",
        f"scenario 4b: layout from cloudrec.layout.main_and_subs on {CANVAS[0]}x{CANVAS[1]}@{FPS}: the "
        f"share fits (crop mode {int(SHARE_CROP)}) in the main tile {tiles[0].w}x{tiles[0].h}, drawn at "
        f"{area.w}x{area.h}+{area.x}+{area.y}; the cameras fill (crop mode {int(CAMERA_CROP)}) subs of "
        f"{subs.w}x{subs.h} at x={subs.x}; the fourth sub slot stays black. cloudrec gets it as a manual "
        "layout; the FFmpeg CLI as color + scale (bilinear, cloudrec's scaler) + overlay at the same "
        "even-snapped rects + amix (normalize=0: cloudrec sums), same x264/AAC settings, -re inputs",
        f"scenario 4b: 'cloudrec' encodes every tick, as the CLI does (the default: a constant frame "
        f"rate); '{VFR}' is the opt-in that does not encode repeated pictures: the difference is what "
        "it saves, for files of a variable frame rate",
        "scenario 4b: CPU as in scenario 1 (cloudrec around run_recording in the child, the CLI from "
        "wait4); frames = video packets in the output, counted without decoding: the CLI writes a "
        f"constant {FPS} fps (-r), fewer than {FPS}/s from cloudrec are pictures it did not encode again "
        "because nothing changed (variable frame rate) or ticks it skipped behind (counted apart); "
        f"Y-PSNR/SSIM of the share's area only, at {samples} times from 1 s on, each against the "
        "best-fitting distinct decoded picture of the share source scaled bilinear to that area (the "
        "recorder's loss, not the share's)",
    ]
    return rows
