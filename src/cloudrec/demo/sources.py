"""The demo's live test sources: pictures and tones generated with PyAV, served live over HTTP (HTTP-FLV).

Each source is a coloured picture with its name, a clock (seconds since the sources started) and a
ball going to and fro, and a sine tone of its own. `SourceServer` serves every source at
`http://<host>:<port>/<name>.flv`: each HTTP client gets its own encoder, started at the current time
of the source and paced at real time, so what a client sees is live, as from a camera.
"""

from __future__ import annotations

import http.server
import io
import logging
import math
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from types import TracebackType
from typing import Self

import av
import numpy as np
from av.audio.frame import AudioFrame
from av.video.frame import VideoFrame
from PIL import Image, ImageDraw

from cloudrec.media.captions import font

log = logging.getLogger(__name__)

RGB = tuple[int, int, int]

SIZE = (320, 180)  # a quarter of the demo's 640x360 canvas: the 2x2 grid shows the sources unscaled
FPS = 15
SAMPLE_RATE = 48000
TONE_AMPLITUDE = 0.2  # four tones summed by the mixer stay below full scale (no clipping)
KEYFRAME_INTERVAL_FRAMES = FPS  # one a second: a recorder that connects gets a picture at once
# The picture's bands (rows of SIZE): the name on top, the clock at the bottom, the ball in between;
# the middle rows stay the plain colour, where tests read it (a tile's centre).
NAME_TOP, NAME_SIZE = 10, 40
BALL_TOP, BALL_SIZE = 118, 18
CLOCK_TOP, CLOCK_SIZE = 146, 22
# The ball stays in the middle half: a 2x1 grid's tall tiles show only that half of a 16:9 source.
BALL_SPAN = (SIZE[0] // 4, 3 * SIZE[0] // 4)
BALL_PERIOD_S = 2.0
# HTTP-FLV, as media servers (SRS, node-media-server) serve live streams. Not MPEG-TS: its muxer sends
# audio up to 0.1 s ahead of the video, and the recorder's pacer then plays it at about 0.4x real time.
FORMAT, MIME_TYPE, SUFFIX = "flv", "video/x-flv", ".flv"
# flush_packets: every packet goes to the socket at once (not 32 KB of buffered latency);
# no_duration_filesize: a live stream has neither, and the muxer must not seek back to write them
CONTAINER_OPTIONS = {"flush_packets": "1", "flvflags": "no_duration_filesize"}


@dataclass(frozen=True)
class SourceSpec:
    """One test source: its name (drawn on it, and its URL path), colour and tone."""

    name: str
    color: RGB
    tone_hz: float


# Distinct colours (far apart in RGB, so each tile is told from the others by one pixel) and the notes of
# a C major chord (262, 330, 392, 523 Hz), so the mix of all four sounds like one.
DEMO_SOURCES = (
    SourceSpec("alice", (220, 40, 40), 261.63),
    SourceSpec("bob", (40, 170, 70), 329.63),
    SourceSpec("carol", (40, 90, 220), 392.00),
    SourceSpec("dave", (235, 190, 40), 523.25),
)


class Picture:
    """The frames of one source: a fixed background with its name, a clock and a moving ball drawn on it."""

    def __init__(self, spec: SourceSpec, size: tuple[int, int] = SIZE, fps: int = FPS) -> None:
        self.spec = spec
        self.fps = fps
        w = size[0]
        base = Image.new("RGB", size, spec.color)
        draw = ImageDraw.Draw(base)
        draw.text(
            (w // 2, NAME_TOP),
            spec.name,
            font=font(NAME_SIZE),
            fill="white",
            anchor="mt",
            stroke_width=2,
            stroke_fill="black",
        )
        self._base = base
        self._ball_color = tuple(255 - c for c in spec.color)

    def frame(self, index: int) -> VideoFrame:
        """Picture number `index` (at `fps`) since the source started."""
        t = index / self.fps
        img = self._base.copy()
        draw = ImageDraw.Draw(img)
        # to and fro: a triangle wave over the span, once every BALL_PERIOD_S
        phase = (t % BALL_PERIOD_S) / BALL_PERIOD_S
        lo, hi = BALL_SPAN[0], BALL_SPAN[1] - BALL_SIZE
        x = lo + round((hi - lo) * (1 - abs(2 * phase - 1)))
        draw.ellipse((x, BALL_TOP, x + BALL_SIZE, BALL_TOP + BALL_SIZE), fill=self._ball_color)
        minutes, seconds = divmod(t, 60)
        draw.text(
            (img.width // 2, CLOCK_TOP),
            f"{int(minutes):02d}:{seconds:04.1f}",
            font=font(CLOCK_SIZE),
            fill="white",
            anchor="mt",
            stroke_width=1,
            stroke_fill="black",
        )
        frame = VideoFrame.from_ndarray(np.asarray(img), format="rgb24")
        frame.pts = index
        frame.time_base = Fraction(1, self.fps)
        return frame


def tone(spec: SourceSpec, start: int, count: int) -> AudioFrame:
    """Samples [start, start + count) of the source's sine tone, mono float planar at SAMPLE_RATE."""
    n = np.arange(start, start + count, dtype=np.float64)
    wave = (TONE_AMPLITUDE * np.sin(2 * math.pi * spec.tone_hz * n / SAMPLE_RATE)).astype(np.float32)
    frame = AudioFrame.from_ndarray(wave[None, :], format="fltp", layout="mono")
    frame.sample_rate = SAMPLE_RATE
    frame.pts = start
    frame.time_base = Fraction(1, SAMPLE_RATE)
    return frame


def stream_live(
    spec: SourceSpec, out: io.BufferedIOBase, started_at: float, stop: threading.Event, picture: Picture
) -> int:
    """Encode the source into `out` (FLV) in real time, from its current time on, until `stop` is set
    or the reader goes away; the number of frames written."""
    container = av.open(out, "w", format=FORMAT, container_options=CONTAINER_OPTIONS)
    written = 0
    try:
        video = container.add_stream(
            "libx264",
            rate=FPS,
            options={"preset": "ultrafast", "tune": "zerolatency", "profile": "baseline", "bf": "0"},
        )
        video.width, video.height = SIZE
        video.pix_fmt = "yuv420p"
        video.codec_context.gop_size = KEYFRAME_INTERVAL_FRAMES
        video.codec_context.time_base = Fraction(1, FPS)
        audio = container.add_stream("aac", rate=SAMPLE_RATE, layout="mono")
        # from now on (the encoders are set up): a reader gets the present, not the time it connected
        index = math.ceil((time.monotonic() - started_at) * FPS)
        while not stop.is_set():
            delay = started_at + index / FPS - time.monotonic()
            if delay > 0 and stop.wait(delay):
                break
            container.mux(video.encode(picture.frame(index)))
            s0, s1 = index * SAMPLE_RATE // FPS, (index + 1) * SAMPLE_RATE // FPS
            container.mux(audio.encode(tone(spec, s0, s1 - s0)))
            index += 1
            written += 1
    except (OSError, av.FFmpegError) as exc:  # the reader hung up: the normal end of a live stream
        log.debug("source %s: reader gone: %s", spec.name, exc)
    finally:
        try:
            container.close()
        except (OSError, av.FFmpegError):
            log.debug("source %s: close after the reader left", spec.name)
    return written


class SourceServer:
    """The sources on a loopback HTTP server (`port` 0: a free one), one encoder per client."""

    def __init__(
        self, sources: tuple[SourceSpec, ...] = DEMO_SOURCES, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.sources = {s.name: s for s in sources}
        self.pictures = {s.name: Picture(s) for s in sources}
        self.started_at = time.monotonic()
        self._stop = threading.Event()
        self._clients: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self._httpd = _HTTPServer((host, port), _handler(self))
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="demo sources", daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def host(self) -> str:
        return str(self._httpd.server_address[0])

    def url(self, name: str) -> str:
        return f"http://{self.host}:{self.port}/{name}{SUFFIX}"

    @property
    def clients(self) -> int:
        """Readers connected now."""
        with self._lock:
            return len(self._clients)

    def start(self) -> Self:
        self.started_at = time.monotonic()
        self._thread.start()
        return self

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop every stream, close the port, and wait (up to `timeout_s`) for the encoders to end."""
        self._stop.set()
        if self._thread.is_alive():
            self._httpd.shutdown()
        self._httpd.server_close()
        deadline = time.monotonic() + timeout_s
        with self._lock:
            clients = list(self._clients)
        for thread in clients:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _serve(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        path = handler.path.split("?", 1)[0]
        spec = self.sources.get(path.lstrip("/").removesuffix(SUFFIX)) if path.endswith(SUFFIX) else None
        if spec is None:
            listing = "".join(f"{self.url(n)}\n" for n in self.sources).encode()
            handler.send_response(404 if handler.path not in ("/", "") else 200)
            handler.send_header("Content-Type", "text/plain; charset=utf-8")
            handler.send_header("Content-Length", str(len(listing)))
            handler.end_headers()
            handler.wfile.write(listing)
            return
        handler.send_response(200)
        handler.send_header("Content-Type", MIME_TYPE)
        handler.send_header("Cache-Control", "no-store")
        handler.end_headers()  # no length: the stream lasts until either side stops (HTTP/1.0 close)
        me = threading.current_thread()
        with self._lock:
            self._clients.add(me)
        try:
            stream_live(spec, handler.wfile, self.started_at, self._stop, self.pictures[spec.name])
        finally:
            with self._lock:
                self._clients.discard(me)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True  # a stuck reader never keeps the demo from exiting
    allow_reuse_address = True


def _handler(server: SourceServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server._serve(self)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("sources: %s", format % args)

    return Handler
