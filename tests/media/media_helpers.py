"""Test helpers for the media engine: clip generation, an HTTP stream server, scripted commands, decoding."""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

from cloudrec.media import run_recording
from cloudrec.recorder.spec import (
    Command,
    FileType,
    Finished,
    Progress,
    SegmentClosed,
    Started,
    TaskSpec,
)

RGB = tuple[int, int, int]
RED: RGB = (230, 30, 30)
GREEN: RGB = (30, 200, 30)
BLUE: RGB = (30, 30, 230)
YELLOW: RGB = (230, 230, 30)
MAGENTA: RGB = (220, 40, 220)
WHITE: RGB = (235, 235, 235)
PLACEHOLDER: RGB = (0x28, 0x28, 0x28)
BLACK: RGB = (0, 0, 0)

TONES = {"red": 440.0, "green": 660.0, "blue": 880.0, "yellow": 1100.0, "pattern": 550.0}
CLIP_RATE = 15
CLIP_SECONDS = 12.0


# ---- clips --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clip:
    """A generated FLV clip: H.264 (no B-frames) + AAC, with a picture function and a tone."""

    name: str
    width: int
    height: int
    picture: Callable[[int], npt.NDArray[np.uint8]]  # frame index -> (h, w, 3) rgb
    sound: Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]]  # times (s) -> samples [-1, 1]


def solid(width: int, height: int, rgb: RGB) -> Callable[[int], npt.NDArray[np.uint8]]:
    image = np.empty((height, width, 3), np.uint8)
    image[:] = rgb
    return lambda _i: image


def tone(freq: float, level: float = 0.3) -> Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]]:
    return lambda t: level * np.sin(2 * np.pi * freq * t)


def bands_pattern(width: int = 320, height: int = 240) -> npt.NDArray[np.uint8]:
    """Magenta centre; green top band, yellow bottom band, red left band, blue right band (each 1/10)."""
    image = np.empty((height, width, 3), np.uint8)
    image[:] = MAGENTA
    bw, bh = width // 10, height // 10
    image[:, :bw] = RED
    image[:, width - bw :] = BLUE
    image[:bh, :] = GREEN
    image[height - bh :, :] = YELLOW
    return image


FLASH_PERIOD = 1.0
FLASH_FIRST = 0.6  # on a frame boundary of the clip (9 / 15 s)
FLASH_LEN = 0.2


def flash_picture(width: int, height: int) -> Callable[[int], npt.NDArray[np.uint8]]:
    dark = np.zeros((height, width, 3), np.uint8)
    light = np.full((height, width, 3), 255, np.uint8)

    def picture(i: int) -> npt.NDArray[np.uint8]:
        t = i / CLIP_RATE
        phase = (t - FLASH_FIRST) % FLASH_PERIOD
        return light if t >= FLASH_FIRST and phase < FLASH_LEN - 1e-9 else dark

    return picture


def beep(t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    phase = np.mod(t - FLASH_FIRST, FLASH_PERIOD)
    on = (t >= FLASH_FIRST) & (phase < FLASH_LEN)
    return np.where(on, 0.5 * np.sin(2 * np.pi * 1000 * t), 0.0)


def write_clip(clip: Clip, path: Path, seconds: float = CLIP_SECONDS) -> None:
    """Encode `clip` as FLV (H.264 baseline-ish, one keyframe a second, AAC 48 kHz stereo)."""
    with av.open(str(path), "w", format="flv") as out:
        vs = out.add_stream("libx264", rate=CLIP_RATE, options={"preset": "ultrafast", "tune": "zerolatency"})
        vs.width, vs.height, vs.pix_fmt = clip.width, clip.height, "yuv420p"
        vs.codec_context.gop_size = CLIP_RATE
        aud = out.add_stream("aac", rate=48000)
        aud.layout = "stereo"
        n_video = int(seconds * CLIP_RATE)
        n_audio = int(seconds * 48000)
        chunk = 1024
        vi = 0
        ai = 0
        while vi < n_video or ai < n_audio:
            if vi < n_video and (ai >= n_audio or vi / CLIP_RATE <= ai / 48000):
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(clip.picture(vi)), format="rgb24")
                frame = frame.reformat(format="yuv420p")
                frame.pts, frame.time_base = vi, Fraction(1, CLIP_RATE)
                out.mux(vs.encode(frame))
                vi += 1
            else:
                n = min(chunk, n_audio - ai)
                t = (ai + np.arange(n)) / 48000
                mono = np.clip(clip.sound(t), -1, 1).astype(np.float32)
                samples = np.stack([mono, mono])
                aframe = av.AudioFrame.from_ndarray(samples, format="fltp", layout="stereo")
                aframe.sample_rate = 48000
                aframe.pts, aframe.time_base = ai, Fraction(1, 48000)
                out.mux(aud.encode(aframe))
                ai += n
        out.mux(vs.encode(None))
        out.mux(aud.encode(None))


# ---- the stream server --------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    server: StreamServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        name = self.path.lstrip("/")
        if name.startswith("hang"):
            self.server.stopping.wait()  # accept, never answer
            return
        path = self.server.root / name
        if not path.is_file():
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "video/x-flv")
        self.end_headers()  # no Content-Length: a live-like, unseekable HTTP-FLV stream
        with path.open("rb") as f, contextlib.suppress(OSError):  # the client went away
            shutil.copyfileobj(f, self.wfile, 64 * 1024)
        self.server.served.append(name)


class StreamServer(ThreadingHTTPServer):
    """Serves the files of `root` over HTTP as unseekable streams; `/hang...` never answers."""

    daemon_threads = True

    def __init__(self, root: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = root
        self.stopping = threading.Event()
        self.served: list[str] = []
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/{name}"

    def stop(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()


def silent_port() -> tuple[socket.socket, str]:
    """A listening TCP socket that never accepts (connections hang in the backlog) and its URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    return sock, f"http://127.0.0.1:{sock.getsockname()[1]}/never.flv"


# ---- running a recording ------------------------------------------------------------------------


@dataclass
class Script:
    """A `commands` function that hands out commands at given seconds after the first call."""

    steps: Sequence[tuple[float, Command]]
    delivered: list[tuple[float, Command]] = field(default_factory=list)
    t0: float | None = None

    def __call__(self, timeout: float) -> Command | None:
        now = time.monotonic()
        if self.t0 is None:
            self.t0 = now
        pos = len(self.delivered)
        if pos < len(self.steps):
            due = self.t0 + self.steps[pos][0]
            if now >= due:
                self.delivered.append((time.time(), self.steps[pos][1]))
                return self.steps[pos][1]
            time.sleep(max(0.0, min(timeout, due - now)))
            return None
        time.sleep(max(0.0, timeout))
        return None


@dataclass
class Result:
    events: list[Progress]
    wall: float

    @property
    def segments(self) -> list[SegmentClosed]:
        return [e for e in self.events if isinstance(e, SegmentClosed)]

    @property
    def finished(self) -> Finished:
        last = self.events[-1]
        assert isinstance(last, Finished), self.events
        return last

    @property
    def started(self) -> Started | None:
        return next((e for e in self.events if isinstance(e, Started)), None)


def make_spec(work_dir: Path, **kw: object) -> TaskSpec:
    base: dict[str, object] = {
        "record_id": "20250101000000_test",
        "app_id": "app",
        "group_id": "g1",
        "file_name": "rec",
        "file_type": FileType.MP4,
        "segment_seconds": 3600.0,
        "width": 320,
        "height": 180,
        "frame_rate": 15,
        "timeout_seconds": 30.0,
        "work_dir": str(work_dir),
        "x264_preset": "ultrafast",
        "open_timeout_seconds": 2.0,
        "read_timeout_seconds": 2.0,
    }
    base.update(kw)
    return TaskSpec(**base)  # type: ignore[arg-type]


def record(spec: TaskSpec, steps: Sequence[tuple[float, Command]]) -> tuple[Result, Script]:
    events: list[Progress] = []
    script = Script(steps)
    t0 = time.monotonic()
    run_recording(spec, script, events.append)
    return Result(events, time.monotonic() - t0), script


def record_forever(spec: TaskSpec) -> None:
    """Record until killed (runs in a child process)."""
    run_recording(spec, lambda timeout: time.sleep(timeout), lambda _event: None)


class FakeClock:
    """A media clock: sleeping advances it at once (a little real sleep keeps other threads going)."""

    def __init__(self) -> None:
        self.t = 1000.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self.t

    def sleep(self, seconds: float) -> None:
        time.sleep(0.0005)
        with self._lock:
            self.t += max(0.0, seconds)


# ---- decoding outputs ---------------------------------------------------------------------------


def video_frames(path: str | Path) -> list[tuple[float, npt.NDArray[np.uint8]]]:
    """(time, rgb image) of every decoded video frame."""
    frames = []
    with av.open(str(path)) as c:
        for frame in c.decode(c.streams.video[0]):
            frames.append((float(frame.time or 0.0), np.asarray(frame.to_ndarray(format="rgb24"), np.uint8)))
    return frames


def audio_mono(path: str | Path) -> tuple[npt.NDArray[np.float64], int, float]:
    """Decoded audio as mono floats, its rate, and the time of the first sample."""
    chunks = []
    first: float | None = None
    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=48000)
        for frame in c.decode(stream):
            if first is None:
                first = float(frame.time or 0.0)
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1).astype(np.float64))
    data = np.concatenate(chunks) if chunks else np.zeros(0)
    return data, 48000, first or 0.0


def media_duration(path: str | Path) -> tuple[float, float]:
    """(video end, audio end) in seconds, from decoded frames (not container metadata)."""
    v_end = a_end = 0.0
    with av.open(str(path)) as c:
        for frame in c.decode(*c.streams.video, *c.streams.audio):
            if isinstance(frame, av.VideoFrame):
                t = float(frame.time or 0.0)
                v_end = max(v_end, t + 1.0 / float(c.streams.video[0].average_rate or 15))
            elif isinstance(frame, av.AudioFrame):
                t = float(frame.time or 0.0)
                a_end = max(a_end, t + frame.samples / frame.sample_rate)
    return v_end, a_end


def pixel(image: npt.NDArray[np.uint8], x: int, y: int, r: int = 2) -> RGB:
    patch = image[max(0, y - r) : y + r + 1, max(0, x - r) : x + r + 1].reshape(-1, 3).mean(axis=0)
    return (int(patch[0]), int(patch[1]), int(patch[2]))


def near(actual: RGB, expected: RGB, tol: int = 40) -> bool:
    return all(abs(a - e) <= tol for a, e in zip(actual, expected, strict=True))


def tone_level(samples: npt.NDArray[np.float64], rate: int, freq: float) -> float:
    """Amplitude of the `freq` component (Hann-windowed FFT peak, ~1.0 for a full-scale sine)."""
    if len(samples) == 0:
        return 0.0
    window = np.hanning(len(samples))
    spectrum = np.abs(np.fft.rfft(samples * window)) * 2 / window.sum()
    freqs = np.fft.rfftfreq(len(samples), 1 / rate)
    band = (freqs > freq - 15) & (freqs < freq + 15)
    return float(spectrum[band].max())
