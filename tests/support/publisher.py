"""Test media for cloudrec: generate it with PyAV, publish it live, write it to files, read it back.

- ``MediaSpec``: what to generate (solid colour / moving bar / noise video, sine tone / silence /
  no audio, or the "flash+beep" A/V sync pattern).
- ``Publisher``: a *separate process* (this file run as a script) that pushes the media to an RTMP
  URL paced at wall-clock real time, forever or for a duration; it can be stopped (SIGTERM),
  killed (SIGKILL) and restarted mid-test to simulate a dropped stream.
- ``write_file``: the same content to a local file (mp4, mpegts, flv, mkv), as fast as the CPU allows.
- Reading back: ``open_input`` (timeouts, fast live probing), ``capture`` (decode N video frames
  and/or S seconds of audio from a URL or file, streams picked by type), and small analysis helpers
  (``mean_rgb``, ``peak_hz``, ``rms``, ``flash_times``, ``beep_onsets``).

Command line (what ``Publisher`` runs)::

    python tests/support/publisher.py rtmp://127.0.0.1:1935/live/u1 --color 255,0,0 --tone 440
    python -m tests.support.publisher out.mp4 --pattern flash-beep --duration 5 --no-realtime

This module imports nothing from the project or from its own package (only stdlib, av, numpy), so
the child process can run it by path whatever the caller's ``sys.path`` is.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Literal, Self, TypedDict, Unpack

import av
import av.container
import numpy as np
import numpy.typing as npt

__all__ = [
    "PUBLISHING_MARKER",
    "Capture",
    "MediaSpec",
    "PublishError",
    "Publisher",
    "PullError",
    "beep_onsets",
    "capture",
    "flash_times",
    "mean_rgb",
    "open_input",
    "peak_hz",
    "rms",
    "write_file",
]

log = logging.getLogger(__name__)

PUBLISHING_MARKER = "cloudrec-publisher: publishing"
"""Line the child prints on stdout once its first packet went out."""

Pattern = Literal["solid", "flash_beep"]
RGB = tuple[int, int, int]
FloatArray = npt.NDArray[np.float32]
ByteArray = npt.NDArray[np.uint8]


class PublishError(RuntimeError):
    """The publisher process failed or the stream did not become live."""


class PullError(RuntimeError):
    """A stream could not be opened or read (within its timeouts)."""


# ---------------------------------------------------------------------------------------------
# What to generate


@dataclass(frozen=True)
class MediaSpec:
    """Generated content. Defaults: red 160x120 @ 15 fps, keyframe every second, 440 Hz AAC mono."""

    size: tuple[int, int] = (160, 120)
    fps: int = 15
    color: RGB = (255, 0, 0)
    video: bool = True
    audio: bool = True
    tone_hz: float | None = 440.0
    """Sine frequency; None: silence (the audio stream is still there). Beep pitch for flash_beep."""
    amplitude: float = 0.5
    motion: bool = False
    """A bar in the inverse colour sweeping left to right once every 2 s."""
    noise: int = 0
    """Amplitude (0-255) of per-pixel uniform noise, for realistic bitrates/encoder load."""
    pattern: Pattern = "solid"
    """"flash_beep": black video with one white frame at every whole second, silence with a
    ``beep_ms`` beep starting at every whole second (plus ``beep_offset_ms``)."""
    beep_ms: int = 100
    beep_offset_ms: int = 0
    """Shift of the beeps against the flashes (positive: audio late), to make sync tests fail."""
    sample_rate: int = 48000
    channels: int = 1
    gop: int | None = None
    """Keyframe interval in frames; None: one per second (fps)."""
    video_codec: str = "libx264"
    audio_codec: str = "aac"
    seed: int = 1

    def __post_init__(self) -> None:
        w, h = self.size
        if w <= 0 or h <= 0 or w % 2 or h % 2:
            raise ValueError(f"size {self.size}: width and height must be positive and even")
        if self.fps <= 0:
            raise ValueError(f"fps {self.fps} must be positive")
        if not self.video and not self.audio:
            raise ValueError("at least one of video and audio is needed")
        if any(not 0 <= c <= 255 for c in self.color) or len(self.color) != 3:
            raise ValueError(f"color {self.color}: three values 0-255")
        if self.channels not in (1, 2):
            raise ValueError(f"channels {self.channels}: 1 or 2")
        if not 0 <= self.noise <= 255:
            raise ValueError(f"noise {self.noise}: 0-255")
        if self.pattern not in ("solid", "flash_beep"):
            raise ValueError(f"pattern {self.pattern!r}: 'solid' or 'flash_beep'")
        if self.gop is not None and self.gop <= 0:
            raise ValueError(f"gop {self.gop} must be positive")

    @property
    def keyint(self) -> int:
        return self.gop or self.fps

    @property
    def layout(self) -> str:
        return "mono" if self.channels == 1 else "stereo"

    def to_args(self) -> list[str]:
        """Command line flags of this spec (inverse of ``_spec_from_args``)."""
        a = [
            "--size",
            f"{self.size[0]}x{self.size[1]}",
            "--fps",
            str(self.fps),
            "--color",
            ",".join(str(c) for c in self.color),
            "--amplitude",
            repr(self.amplitude),
            "--noise",
            str(self.noise),
            "--pattern",
            self.pattern.replace("_", "-"),
            "--beep-ms",
            str(self.beep_ms),
            "--beep-offset-ms",
            str(self.beep_offset_ms),
            "--sample-rate",
            str(self.sample_rate),
            "--channels",
            str(self.channels),
            "--video-codec",
            self.video_codec,
            "--audio-codec",
            self.audio_codec,
            "--seed",
            str(self.seed),
        ]
        a += ["--tone", repr(self.tone_hz)] if self.tone_hz is not None else ["--silence"]
        if self.gop is not None:
            a += ["--gop", str(self.gop)]
        if self.motion:
            a.append("--motion")
        if not self.video:
            a.append("--no-video")
        if not self.audio:
            a.append("--no-audio")
        return a


class SpecFields(TypedDict, total=False):
    """Keyword overrides of MediaSpec fields (typed **kwargs of Publisher)."""

    size: tuple[int, int]
    fps: int
    color: RGB
    video: bool
    audio: bool
    tone_hz: float | None
    amplitude: float
    motion: bool
    noise: int
    pattern: Pattern
    beep_ms: int
    beep_offset_ms: int
    sample_rate: int
    channels: int
    gop: int | None
    video_codec: str
    audio_codec: str
    seed: int


class _Content:
    """Frame-exact generator of the spec's pictures and samples."""

    def __init__(self, spec: MediaSpec) -> None:
        self.spec = spec
        self._rng = np.random.default_rng(spec.seed)
        w, h = spec.size
        self._static: dict[str, av.VideoFrame] = {}
        if spec.pattern == "flash_beep":
            self._static["black"] = self._to_frame(np.zeros((h, w, 3), np.uint8))
            self._static["white"] = self._to_frame(np.full((h, w, 3), 255, np.uint8))
        elif not spec.motion and not spec.noise:
            self._static["solid"] = self._to_frame(self._solid())

    def _solid(self) -> ByteArray:
        w, h = self.spec.size
        img = np.empty((h, w, 3), np.uint8)
        img[:] = self.spec.color
        return img

    @staticmethod
    def _to_frame(img: ByteArray) -> av.VideoFrame:
        return av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")

    def is_flash(self, index: int) -> bool:
        return index % self.spec.fps == 0

    def video_frame(self, index: int) -> av.VideoFrame:
        spec = self.spec
        if spec.pattern == "flash_beep":
            frame = self._static["white" if self.is_flash(index) else "black"]
        elif "solid" in self._static:
            frame = self._static["solid"]
        else:
            img = self._solid()
            w = spec.size[0]
            if spec.motion:
                bar = max(2, w // 8)
                period = 2 * spec.fps
                x = (index % period) * (w - bar) // max(1, period - 1)
                img[:, x : x + bar] = 255 - np.array(spec.color, np.uint8)
            if spec.noise:
                n = self._rng.integers(-spec.noise, spec.noise + 1, img.shape, dtype=np.int16)
                img = np.clip(img.astype(np.int16) + n, 0, 255).astype(np.uint8)
            frame = self._to_frame(img)
        # Static frames are reused: the encoder holds a reference to the (read-only) buffers.
        frame.pts = index
        frame.time_base = Fraction(1, spec.fps)
        return frame

    def samples(self, start: int, count: int) -> FloatArray:
        """Mono float32 samples [start, start+count) of the audio signal."""
        spec = self.spec
        n = np.arange(start, start + count, dtype=np.float64)
        if spec.tone_hz is None:
            return np.zeros(count, np.float32)
        wave = spec.amplitude * np.sin(2 * np.pi * spec.tone_hz * n / spec.sample_rate)
        if spec.pattern == "flash_beep":
            sr = spec.sample_rate
            offset = spec.beep_offset_ms * sr // 1000
            length = spec.beep_ms * sr // 1000
            pos = (n.astype(np.int64) - offset) % sr
            wave = np.where(pos < length, wave, 0.0)
        return wave.astype(np.float32)

    def audio_frame(self, start: int, count: int) -> av.AudioFrame:
        spec = self.spec
        mono = self.samples(start, count)
        planes = np.repeat(mono[None, :], spec.channels, axis=0)
        frame = av.AudioFrame.from_ndarray(planes, format="fltp", layout=spec.layout)
        frame.sample_rate = spec.sample_rate
        frame.pts = start
        frame.time_base = Fraction(1, spec.sample_rate)
        return frame


# ---------------------------------------------------------------------------------------------
# Encoding loop (used by the child process and by write_file)

_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".ts": "mpegts", ".flv": "flv", ".mkv": "matroska"}


def _guess_format(target: str) -> str:
    if "://" in target and not target.startswith("file:"):
        return "flv"
    suffix = Path(target).suffix.lower()
    if suffix not in _FORMATS:
        raise ValueError(f"cannot guess the container format of {target!r}; pass format=")
    return _FORMATS[suffix]


def _add_streams(
    out: av.container.OutputContainer, spec: MediaSpec
) -> tuple[av.VideoStream | None, av.AudioStream | None]:
    vstream: av.VideoStream | None = None
    astream: av.AudioStream | None = None
    if spec.video:
        opts: dict[str, str] = {}
        if spec.video_codec == "libx264":
            opts = {
                "preset": "ultrafast",
                "tune": "zerolatency",
                "profile": "baseline",
                "keyint_min": str(spec.keyint),
                "sc_threshold": "0",
                "bf": "0",
            }
        vs = out.add_stream(spec.video_codec, rate=spec.fps, options=opts)
        assert isinstance(vs, av.VideoStream), f"{spec.video_codec} is not a video codec"
        vstream = vs
        vstream.width, vstream.height = spec.size
        vstream.pix_fmt = "yuv420p"
        vstream.codec_context.gop_size = spec.keyint
        vstream.codec_context.time_base = Fraction(1, spec.fps)
    if spec.audio:
        aus = out.add_stream(spec.audio_codec, rate=spec.sample_rate, layout=spec.layout)
        assert isinstance(aus, av.AudioStream), f"{spec.audio_codec} is not an audio codec"
        astream = aus
    return vstream, astream


def _encode(
    target: str,
    spec: MediaSpec,
    *,
    duration: float | None,
    realtime: bool,
    fmt: str | None = None,
    timeout: float = 10.0,
    should_stop: Callable[[], bool] = lambda: False,
    on_first_packet: Callable[[], None] = lambda: None,
) -> int:
    """Encode the spec's content to ``target``; returns the number of ticks (1/fps) written."""
    fmt = fmt or _guess_format(target)
    container_options = {"flvflags": "no_duration_filesize"} if fmt == "flv" else {}
    content = _Content(spec)
    ticks = None if duration is None else max(1, round(duration * spec.fps))
    try:
        out = av.open(target, mode="w", format=fmt, container_options=container_options, timeout=timeout)
    except av.FFmpegError as e:
        raise PublishError(f"cannot open {target} for writing: {e}") from e
    first = True
    i = 0
    with out:
        vstream, astream = _add_streams(out, spec)

        def mux(packets: Sequence[av.Packet[Any]]) -> None:
            nonlocal first
            if packets:
                out.mux(packets)
                if first:
                    first = False
                    on_first_packet()

        t0 = time.monotonic()
        parent = os.getppid()
        while (ticks is None or i < ticks) and not should_stop():
            if realtime and i % spec.fps == 0 and os.getppid() != parent:
                log.warning("parent process gone: stopping")
                break
            if realtime:
                delay = t0 + i / spec.fps - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                elif delay < -1.0 and i % spec.fps == 0:
                    log.warning("publisher is %.1f s behind real time", -delay)
            if vstream is not None:
                mux(vstream.encode(content.video_frame(i)))
            if astream is not None:
                s0 = i * spec.sample_rate // spec.fps
                s1 = (i + 1) * spec.sample_rate // spec.fps
                mux(astream.encode(content.audio_frame(s0, s1 - s0)))
            i += 1
        if vstream is not None:
            mux(vstream.encode(None))
        if astream is not None:
            mux(astream.encode(None))
    return i


def write_file(
    path: str | os.PathLike[str],
    spec: MediaSpec | None = None,
    *,
    duration: float,
    format: str | None = None,
    **fields: Unpack[SpecFields],
) -> Path:
    """Write ``duration`` seconds of the spec's content to a local file (no pacing); returns the path.

    The format follows the extension (.mp4, .ts, .flv, .mkv, .mov) unless given.
    """
    spec = dataclasses.replace(spec or MediaSpec(), **fields)
    target = Path(path)
    _encode(str(target), spec, duration=duration, realtime=False, fmt=format or _guess_format(str(target)))
    return target


# ---------------------------------------------------------------------------------------------
# Reading back


def open_input(
    url: str,
    *,
    timeout: float = 5.0,
    read_timeout: float | None = None,
    options: dict[str, str] | None = None,
) -> av.container.InputContainer:
    """Open a live URL or a file for reading, with open and read timeouts; raises PullError.

    ``analyzeduration`` 0.5 s: NMS sends its cached GOP at once, so probing ends in a few ms
    instead of waiting ~2-3 s of real time with FFmpeg's default. Not ``probesize=32`` or
    ``analyzeduration=0``: the FLV header's stream flags then win (HTTP-FLV opens with only the data
    stream, RTMP reports 44.1 kHz for 48 kHz AAC).
    """
    opts = {"analyzeduration": "500000"}
    if url.startswith("rtmp"):
        opts["rtmp_live"] = "live"
    opts.update(options or {})
    try:
        return av.open(url, container_options=opts, timeout=(timeout, read_timeout or timeout))
    except av.FFmpegError as e:
        raise PullError(f"cannot open {url} within {timeout} s: {e}") from e


@dataclass
class Capture:
    """Decoded media: RGB frames with their times, and mono float audio."""

    stream_types: list[str]
    video: list[ByteArray] = field(default_factory=list)
    video_times: list[float] = field(default_factory=list)
    audio: FloatArray = field(default_factory=lambda: np.zeros(0, np.float32))
    audio_start: float | None = None
    sample_rate: int = 0

    @property
    def audio_seconds(self) -> float:
        return len(self.audio) / self.sample_rate if self.sample_rate else 0.0


def capture(
    url: str,
    *,
    video_frames: int = 0,
    audio_seconds: float = 0.0,
    timeout: float = 10.0,
    open_timeout: float | None = None,
    read_timeout: float = 2.0,
) -> Capture:
    """Decode ``video_frames`` frames and ``audio_seconds`` of audio from ``url`` (live or file).

    Streams are picked by type (HTTP-FLV from NMS has a data stream first). Raises PullError if the
    stream cannot be opened, lacks a wanted type, ends early or the whole capture exceeds ``timeout``.
    """
    t0 = time.monotonic()
    deadline = t0 + timeout
    container = open_input(url, timeout=open_timeout or timeout, read_timeout=min(read_timeout, timeout))
    with container:
        result = Capture(stream_types=[s.type for s in container.streams])
        vs = container.streams.video[0] if video_frames and container.streams.video else None
        aus = container.streams.audio[0] if audio_seconds and container.streams.audio else None
        if video_frames and vs is None:
            raise PullError(f"{url}: no video stream (streams: {result.stream_types})")
        if audio_seconds and aus is None:
            raise PullError(f"{url}: no audio stream (streams: {result.stream_types})")
        wanted = [s for s in (vs, aus) if s is not None]
        if not wanted:
            return result
        resampler = av.AudioResampler(format="flt", layout="mono") if aus is not None else None
        chunks: list[FloatArray] = []
        need_samples = 0

        def done() -> bool:
            v_ok = len(result.video) >= video_frames
            a_ok = aus is None or (need_samples > 0 and sum(len(c) for c in chunks) >= need_samples)
            return v_ok and a_ok

        try:
            for packet in container.demux(wanted):
                for frame in packet.decode():
                    if isinstance(frame, av.VideoFrame) and len(result.video) < video_frames:
                        result.video.append(np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8))
                        result.video_times.append(float(frame.time) if frame.time is not None else math.nan)
                    elif isinstance(frame, av.AudioFrame) and resampler is not None:
                        if not result.sample_rate:
                            result.sample_rate = frame.sample_rate
                            result.audio_start = frame.time
                            need_samples = round(audio_seconds * frame.sample_rate)
                        for rf in resampler.resample(frame):
                            chunks.append(rf.to_ndarray().reshape(-1).astype(np.float32))
                if done():
                    break
                if time.monotonic() > deadline:
                    raise PullError(
                        f"{url}: capture timed out after {timeout} s with {len(result.video)}/"
                        f"{video_frames} frames, {sum(len(c) for c in chunks)}/{need_samples} samples"
                    )
        except av.FFmpegError as e:
            raise PullError(
                f"{url}: read failed after {time.monotonic() - t0:.1f} s with "
                f"{len(result.video)}/{video_frames} frames: {e}"
            ) from e
        if not done():
            raise PullError(
                f"{url}: stream ended with {len(result.video)}/{video_frames} frames, "
                f"{sum(len(c) for c in chunks)}/{need_samples} samples"
            )
        if chunks:
            result.audio = np.concatenate(chunks)[:need_samples]
    return result


def mean_rgb(img: ByteArray, box: tuple[int, int, int, int] | None = None) -> tuple[float, float, float]:
    """Mean colour of an RGB image, or of ``box`` = (x0, y0, x1, y1) in it."""
    if box is not None:
        x0, y0, x1, y1 = box
        img = img[y0:y1, x0:x1]
    m = img.reshape(-1, 3).mean(axis=0)
    return float(m[0]), float(m[1]), float(m[2])


def rms(samples: FloatArray) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if len(samples) else 0.0


def peak_hz(samples: FloatArray, sample_rate: int) -> float:
    """Frequency of the strongest FFT bin (Hann window)."""
    if len(samples) < 16:
        raise ValueError("too few samples for a spectrum")
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    spectrum[0] = 0.0
    return float(np.argmax(spectrum)) * sample_rate / len(samples)


def flash_times(cap: Capture, threshold: float = 128.0) -> list[float]:
    """Times of the frames that start a bright period (flash_beep pattern)."""
    times: list[float] = []
    prev = False
    for img, t in zip(cap.video, cap.video_times, strict=True):
        bright = float(img.mean()) > threshold
        if bright and not prev:
            times.append(t)
        prev = bright
    return times


def beep_onsets(cap: Capture, threshold: float = 0.05, window_ms: int = 5) -> list[float]:
    """Times (stream clock) at which the audio becomes loud after at least 100 ms of quiet."""
    if cap.sample_rate == 0 or cap.audio_start is None:
        return []
    win = max(1, cap.sample_rate * window_ms // 1000)
    n = len(cap.audio) // win
    levels = np.sqrt(np.mean(np.square(cap.audio[: n * win].reshape(n, win)), axis=1))
    quiet_needed = max(1, 100 // window_ms)
    onsets: list[float] = []
    quiet = quiet_needed
    for k, level in enumerate(levels):
        if level > threshold:
            if quiet >= quiet_needed:
                onsets.append(cap.audio_start + k * win / cap.sample_rate)
            quiet = 0
        else:
            quiet += 1
    return onsets


# ---------------------------------------------------------------------------------------------
# The publisher process, seen from the test


class Publisher:
    """Pushes generated media to ``url`` from a child process, paced at real time.

    ``Publisher(url, color=(255, 0, 0), tone_hz=440)`` or ``Publisher(url, MediaSpec(...))``.
    ``with`` starts it and stops it (SIGTERM, then SIGKILL). ``stop(kill=True)`` drops the stream
    abruptly, ``start()`` afterwards publishes again (a fresh process, same spec).
    """

    def __init__(
        self,
        url: str,
        spec: MediaSpec | None = None,
        *,
        duration: float | None = None,
        connect_timeout: float = 10.0,
        **fields: Unpack[SpecFields],
    ) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self.url = url
        self.spec = dataclasses.replace(spec or MediaSpec(), **fields)
        self.duration = duration
        self.connect_timeout = connect_timeout
        self._tmp = tempfile.TemporaryDirectory(prefix="cloudrec-pub-")
        self._runs = 0
        self._log_path: Path | None = None

    def command(self) -> list[str]:
        cmd = [sys.executable, str(Path(__file__).resolve()), self.url, *self.spec.to_args()]
        cmd += ["--connect-timeout", repr(self.connect_timeout)]
        if self.duration is not None:
            cmd += ["--duration", repr(self.duration)]
        return cmd

    def start(self, **fields: Unpack[SpecFields]) -> Self:
        """Start (again) a child process; ``fields`` change the spec from now on."""
        if self.running:
            raise PublishError(f"publisher for {self.url} is already running (pid {self.pid})")
        if fields:
            self.spec = dataclasses.replace(self.spec, **fields)
        self._runs += 1
        self._log_path = Path(self._tmp.name) / f"run{self._runs}.log"
        with self._log_path.open("wb") as logf:
            self._proc = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT
            )
        log.info("publisher pid %d -> %s", self._proc.pid, self.url)
        return self

    def stop(self, *, kill: bool = False, timeout: float = 5.0) -> int | None:
        """Stop the child: SIGKILL if ``kill`` (a dropped stream), else SIGTERM (clean unpublish)."""
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            if kill:
                proc.kill()
            else:
                proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        log.info("publisher pid %d stopped, exit code %s", proc.pid, proc.returncode)
        return proc.returncode

    def kill(self) -> int | None:
        return self.stop(kill=True)

    def restart(self, *, kill: bool = False, **fields: Unpack[SpecFields]) -> Self:
        self.stop(kill=kill)
        return self.start(**fields)

    def wait(self, timeout: float) -> int:
        """Wait for a publisher with a duration to finish; its exit code."""
        if self._proc is None:
            raise PublishError("publisher not started")
        try:
            return self._proc.wait(timeout)
        except subprocess.TimeoutExpired as e:
            raise PublishError(f"publisher still running after {timeout} s") from e

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def returncode(self) -> int | None:
        return self._proc.poll() if self._proc is not None else None

    def log_text(self) -> str:
        if self._log_path is None or not self._log_path.exists():
            return ""
        return self._log_path.read_text(errors="replace")

    def _died(self) -> PublishError:
        return PublishError(
            f"publisher for {self.url} exited with code {self.returncode}; output:\n{self.log_text()[-3000:]}"
        )

    def wait_publishing(self, timeout: float = 10.0) -> float:
        """Wait until the child has sent its first packet; seconds waited."""
        if self._proc is None:
            raise PublishError("publisher not started")
        t0 = time.monotonic()
        while PUBLISHING_MARKER not in self.log_text():
            if self._proc.poll() is not None:
                raise self._died()
            if time.monotonic() - t0 > timeout:
                raise PublishError(
                    f"publisher for {self.url} sent nothing within {timeout} s:\n{self.log_text()}"
                )
            time.sleep(0.02)
        return time.monotonic() - t0

    def wait_live(self, pull_url: str | None = None, *, timeout: float = 10.0, flow: float = 0.3) -> float:
        """Wait until the stream is pullable from ``pull_url`` (default: the publish URL); seconds waited.

        "Live" means: frames keep arriving for ``flow`` seconds of wall time after the first decoded
        one. One decoded frame is not enough: for 30 s after a publisher drops, NMS still hands new
        players the old headers and GOP cache, then nothing.
        """
        t0 = time.monotonic()
        deadline = t0 + timeout
        self.wait_publishing(timeout)
        url = pull_url or self.url
        last_error = ""
        while True:
            if self._proc is not None and self._proc.poll() is not None:
                raise self._died()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PublishError(f"{url} not live within {timeout} s: {last_error}")
            try:
                if self._flowing(url, min(remaining, 3.0), flow):
                    waited = time.monotonic() - t0
                    log.info("%s live after %.2f s", url, waited)
                    return waited
                last_error = "frames stopped"
            except PullError as e:
                last_error = str(e)
            time.sleep(0.1)

    def _flowing(self, url: str, timeout: float, flow: float) -> bool:
        read_timeout = max(0.5, 3.0 / self.spec.fps)
        deadline = time.monotonic() + timeout
        with open_input(url, timeout=timeout, read_timeout=read_timeout) as c:
            streams = c.streams.video if self.spec.video else c.streams.audio
            if not streams:
                raise PullError(f"{url}: no {'video' if self.spec.video else 'audio'} stream yet")
            first: float | None = None
            try:
                for packet in c.demux(streams[0]):
                    for _ in packet.decode():
                        now = time.monotonic()
                        first = first or now
                        if now - first >= flow:
                            return True
                    if time.monotonic() > deadline:
                        return False
            except av.FFmpegError as e:
                raise PullError(f"{url}: {e}") from e
        return False

    def __enter__(self) -> Self:
        if not self.running:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __del__(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()


# ---------------------------------------------------------------------------------------------
# The publisher process itself


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Generate test media and publish it (RTMP) or write it to a file."
    )
    p.add_argument("target", help="rtmp://... URL, or a file path (.mp4 .ts .flv .mkv .mov)")
    p.add_argument("--format", help="container format (default: flv for URLs, from the extension for files)")
    p.add_argument("--size", default="160x120", help="WxH")
    p.add_argument("--fps", type=int, default=15)
    p.add_argument("--color", default="255,0,0", help="R,G,B")
    tone = p.add_mutually_exclusive_group()
    tone.add_argument("--tone", type=float, default=440.0, help="sine frequency in Hz")
    tone.add_argument("--silence", action="store_true", help="silent audio stream")
    p.add_argument("--amplitude", type=float, default=0.5)
    p.add_argument("--no-audio", action="store_true")
    p.add_argument("--no-video", action="store_true")
    p.add_argument("--motion", action="store_true", help="moving bar")
    p.add_argument("--noise", type=int, default=0, help="per-pixel noise amplitude 0-255")
    p.add_argument("--pattern", choices=["solid", "flash-beep"], default="solid")
    p.add_argument("--beep-ms", type=int, default=100)
    p.add_argument("--beep-offset-ms", type=int, default=0)
    p.add_argument("--sample-rate", type=int, default=48000)
    p.add_argument("--channels", type=int, default=1)
    p.add_argument("--gop", type=int, help="keyframe interval in frames (default: fps)")
    p.add_argument("--video-codec", default="libx264")
    p.add_argument("--audio-codec", default="aac")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--duration", type=float, help="seconds (default: until killed)")
    p.add_argument("--no-realtime", action="store_true", help="as fast as possible (files)")
    p.add_argument("--connect-timeout", type=float, default=10.0)
    return p.parse_args(argv)


def _spec_from_args(ns: argparse.Namespace) -> MediaSpec:
    w, h = (int(v) for v in str(ns.size).lower().split("x"))
    r, g, b = (int(v) for v in str(ns.color).split(","))
    return MediaSpec(
        size=(w, h),
        fps=ns.fps,
        color=(r, g, b),
        video=not ns.no_video,
        audio=not ns.no_audio,
        tone_hz=None if ns.silence else ns.tone,
        amplitude=ns.amplitude,
        motion=ns.motion,
        noise=ns.noise,
        pattern="flash_beep" if ns.pattern == "flash-beep" else "solid",
        beep_ms=ns.beep_ms,
        beep_offset_ms=ns.beep_offset_ms,
        sample_rate=ns.sample_rate,
        channels=ns.channels,
        gop=ns.gop,
        video_codec=ns.video_codec,
        audio_codec=ns.audio_codec,
        seed=ns.seed,
    )


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s publisher[%(process)d] %(levelname)s %(message)s"
    )
    ns = _parse_args(argv)
    spec = _spec_from_args(ns)
    stop_requested = False

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def announce() -> None:
        sys.stdout.write(PUBLISHING_MARKER + "\n")
        sys.stdout.flush()

    realtime = not ns.no_realtime
    if ns.duration is None and not realtime:
        log.error("--no-realtime needs --duration")
        return 2
    log.info("publishing %s to %s (%s)", spec, ns.target, "real time" if realtime else "as fast as possible")
    t0 = time.monotonic()
    try:
        ticks = _encode(
            ns.target,
            spec,
            duration=ns.duration,
            realtime=realtime,
            fmt=ns.format,
            timeout=ns.connect_timeout,
            should_stop=lambda: stop_requested,
            on_first_packet=announce,
        )
    except (PublishError, av.FFmpegError, OSError) as e:
        log.error("publishing to %s failed: %s", ns.target, e)
        return 1
    cpu = time.process_time()
    log.info(
        "done: %d ticks (%.1f s of media) in %.1f s wall, %.2f s CPU",
        ticks,
        ticks / spec.fps,
        time.monotonic() - t0,
        cpu,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
