"""Generated camera-like sources, a local HTTP stream server, and output quality (Y-PSNR, SSIM)."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import logging
import shutil
import threading
from collections.abc import Callable, Iterator
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

SOURCE_W, SOURCE_H, SOURCE_FPS = 640, 360, 30
SAMPLE_RATE = 48000
HUES: tuple[tuple[int, int, int], ...] = ((200, 60, 50), (50, 160, 70), (60, 80, 200), (190, 170, 40))
TONES = (440.0, 550.0, 660.0, 770.0)
NOISE = 6  # +- per-pixel temporal noise, like a camera sensor

U8 = npt.NDArray[np.uint8]


@functools.lru_cache(maxsize=16)
def _background(source: int, width: int, height: int) -> npt.NDArray[np.int16]:
    hue = np.array(HUES[source % len(HUES)], np.float32)
    ys = np.linspace(0.45, 1.0, height, dtype=np.float32)[:, None, None]
    xs = np.linspace(0.8, 1.0, width, dtype=np.float32)[None, :, None]
    return (hue * ys * xs).astype(np.int16)


@functools.lru_cache(maxsize=4)
def _noise(width: int, height: int) -> npt.NDArray[np.int16]:
    """A bank of noise fields 1 px larger than the frame: frames take shifted windows of it."""
    rng = np.random.default_rng(7)
    return rng.integers(-NOISE, NOISE + 1, (4, height + 64, width + 64, 1), dtype=np.int16)


def camera_frame(
    index: int, source: int, width: int = SOURCE_W, height: int = SOURCE_H, fps: int = SOURCE_FPS
) -> U8:
    """One rgb24 frame (frame `index` at `fps`): a lit gradient in the source's hue, two moving shapes
    and sensor noise."""
    image = _background(source, width, height).copy()
    t = index / fps
    # a "head": a bright disc drifting slowly, and a "hand": a bar sweeping every 3 s
    r = int(height * 0.22)
    cx = int(width * (0.5 + 0.25 * np.sin(2 * np.pi * t / 5 + source)))
    cy = int(height * (0.5 + 0.15 * np.cos(2 * np.pi * t / 7)))
    y0, y1, x0, x1 = max(0, cy - r), min(height, cy + r), max(0, cx - r), min(width, cx + r)
    yy, xx = np.ogrid[y0:y1, x0:x1]
    disc = (xx - cx) ** 2 + (yy - cy) ** 2 < r * r
    box = image[y0:y1, x0:x1]
    box[disc] = box[disc] * 2 // 5 + 150
    bar_x = int((t / 3 % 1.0) * width)
    image[:, bar_x : bar_x + width // 16] = 235 - np.array(HUES[source % len(HUES)], np.int16) // 2
    # temporal noise: a different window of the noise bank every frame (cheap, never repeats soon)
    k = (index * 7919 + source * 104729) % (64 * 64 * 4)
    bank, dy, dx = k % 4, (k // 4) % 64, (k // 256) % 64
    image += _noise(width, height)[bank, dy : dy + height, dx : dx + width]
    return np.clip(image, 0, 255).astype(np.uint8)


def tone(source: int, start: int, count: int) -> npt.NDArray[np.float32]:
    """`count` mono samples from sample `start` of the source's steady sine tone (amplitude 0.2)."""
    t = (start + np.arange(count)) / SAMPLE_RATE
    return (0.2 * np.sin(2 * np.pi * TONES[source % len(TONES)] * t)).astype(np.float32)


def write_flv(
    path: Path,
    *,
    width: int,
    height: int,
    fps: int,
    seconds: float,
    picture: Callable[[int], U8],
    sound: Callable[[int, int], npt.NDArray[np.float32]] | None,
    keyframe_seconds: float = 2.0,
) -> None:
    """Encode an FLV of `seconds`: H.264 `width` x `height` at `fps` (veryfast, CRF 23, no B-frames,
    a keyframe every `keyframe_seconds`) of `picture(frame index)` (rgb24), and, unless `sound` is
    None, AAC 48 kHz stereo (96 kbit/s) of `sound(first sample, count)` (mono float, both channels).

    A picture identical to the previous one is converted once (x264 codes it as skip blocks anyway).
    Nothing is done when `path` exists: callers put what the file depends on into its name, and the
    file appears whole (renamed when done) or not at all.
    """
    if path.exists():
        return
    log.info("generating source %s (%.0f s)", path.name, seconds)
    tmp = path.with_suffix(".part")
    with av.open(str(tmp), "w", format="flv") as out:
        vs = out.add_stream("libx264", rate=fps, options={"preset": "veryfast", "crf": "23", "bf": "0"})
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        vs.codec_context.gop_size = max(1, round(keyframe_seconds * fps))
        aud = None
        if sound is not None:
            aud = out.add_stream("aac", rate=SAMPLE_RATE)
            aud.layout = "stereo"
            aud.bit_rate = 96_000
        n_video = int(seconds * fps)
        n_audio = int(seconds * SAMPLE_RATE) if aud is not None else 0
        vi = ai = 0
        last: tuple[U8, av.VideoFrame] | None = None
        while vi < n_video or ai < n_audio:
            if vi < n_video and (ai >= n_audio or vi / fps <= ai / SAMPLE_RATE):
                rgb = picture(vi)
                if last is None or last[0] is not rgb:
                    yuv = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
                    last = (rgb, yuv)
                frame = last[1]
                frame.pts, frame.time_base = vi, Fraction(1, fps)
                out.mux(vs.encode(frame))
                vi += 1
            else:
                assert aud is not None
                n = min(1024, n_audio - ai)
                mono = sound(ai, n) if sound is not None else np.zeros(n, np.float32)
                aframe = av.AudioFrame.from_ndarray(np.stack([mono, mono]), format="fltp", layout="stereo")
                aframe.sample_rate = SAMPLE_RATE
                aframe.pts, aframe.time_base = ai, Fraction(1, SAMPLE_RATE)
                out.mux(aud.encode(aframe))
                ai += n
        out.mux(vs.encode(None))
        if aud is not None:
            out.mux(aud.encode(None))
    tmp.rename(path)


def write_source(path: Path, source: int, seconds: float) -> None:
    """Encode a camera-like FLV: H.264 640x360@30 (keyframe every 2 s, no B-frames) + AAC stereo tone."""
    write_flv(
        path,
        width=SOURCE_W,
        height=SOURCE_H,
        fps=SOURCE_FPS,
        seconds=seconds,
        picture=lambda i: camera_frame(i, source),
        sound=lambda start, count: tone(source, start, count),
    )


def ensure_sources(cache: Path, count: int, seconds: float) -> list[Path]:
    """The `count` source files of `seconds` each, generated once into `cache`."""
    cache.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha1(f"v2-{seconds}-{NOISE}".encode()).hexdigest()[:8]
    paths = []
    for i in range(count):
        path = cache / f"cam{i}_{key}.flv"
        write_source(path, i, seconds)
        paths.append(path)
    return paths


# ---- the HTTP stream server ---------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    server: StreamServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        name, _, query = self.path.partition("?")
        path = self.server.root / name.lstrip("/")
        if not path.is_file():
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "video/x-flv")
        self.end_headers()  # no Content-Length: an unseekable, live-like HTTP-FLV stream
        if "loop=1" in query.split("&"):
            with contextlib.suppress(OSError, av.FFmpegError):
                _loop_flv(path, self.wfile)
            return
        with path.open("rb") as f, contextlib.suppress(OSError):
            shutil.copyfileobj(f, self.wfile, 64 * 1024)


def _loop_flv(path: Path, sink: io.BufferedIOBase) -> None:
    """Stream the FLV file `path` over and over as one endless FLV stream, each pass's timestamps
    shifted to follow the last (until the reader goes away)."""
    with av.open(str(path)) as probe:
        templates = list(probe.streams)
        with av.open(sink, "w", format="flv") as out:
            streams = [out.add_stream_from_template(t) for t in templates]
            offset = 0  # in milliseconds, FLV's time base
            while True:
                end = offset
                with av.open(str(path)) as src:
                    for packet in src.demux():
                        if packet.dts is None or packet.stream.index >= len(streams):
                            continue
                        packet.dts += offset
                        packet.pts = packet.dts if packet.pts is None else packet.pts + offset
                        end = max(end, packet.dts + (packet.duration or 0))
                        packet.stream = streams[packet.stream.index]
                        out.mux(packet)
                offset = end


class StreamServer(ThreadingHTTPServer):
    """Serves the files of `root` as unseekable HTTP streams (a query string makes distinct URLs)."""

    daemon_threads = True

    def __init__(self, root: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = root
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: Path, tag: int = 0, loop: bool = False) -> str:
        """The URL of `path` (`tag` makes a distinct one; `loop`: the file repeated without end)."""
        return f"http://127.0.0.1:{self.server_address[1]}/{path.name}?n={tag}" + ("&loop=1" if loop else "")

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


@contextlib.contextmanager
def serving(root: Path) -> Iterator[StreamServer]:
    server = StreamServer(root)
    try:
        yield server
    finally:
        server.stop()


# ---- quality ------------------------------------------------------------------------------------


def rgb_frames(path: Path, limit: int) -> list[U8]:
    """The first `limit` decoded video frames as rgb24 arrays."""
    frames: list[U8] = []
    with av.open(str(path)) as c:
        for frame in c.decode(c.streams.video[0]):
            frames.append(np.asarray(frame.to_ndarray(format="rgb24"), np.uint8))
            if len(frames) >= limit:
                break
    return frames


def luma_frames(path: Path, limit: int | None = None) -> list[U8]:
    """The Y planes of the first `limit` decoded video frames (BT.601 limited range, as decoded)."""
    frames: list[U8] = []
    with av.open(str(path)) as c:
        for frame in c.decode(c.streams.video[0]):
            if frame.format.name == "yuv420p":
                frames.append(y_plane(frame))
            else:
                frames.append(_gray(frame))
            if limit is not None and len(frames) >= limit:
                break
    return frames


def luma_at(path: Path, times: list[float]) -> list[U8]:
    """The Y plane of the video frame on show at each of `times` (seconds, ascending): the last frame
    whose timestamp is not after it (variable frame rate safe); decodes up to the last time."""
    shown: list[U8] = []
    current: U8 | None = None
    with av.open(str(path)) as c:
        for frame in c.decode(c.streams.video[0]):
            at = frame.time if frame.time is not None else 0.0
            while len(shown) < len(times) and at > times[len(shown)] and current is not None:
                shown.append(current)
            if len(shown) == len(times):
                break
            current = y_plane(frame) if frame.format.name == "yuv420p" else _gray(frame)
    while current is not None and len(shown) < len(times):
        shown.append(current)
    return shown


def video_packets(path: Path) -> tuple[int, int]:
    """(video frames, keyframes) of a file, counted from its packets without decoding."""
    frames = keys = 0
    with av.open(str(path)) as c:
        for packet in c.demux(c.streams.video[0]):
            if packet.size:
                frames += 1
                keys += bool(packet.is_keyframe)
    return frames, keys


def _gray(frame: av.VideoFrame) -> U8:
    return np.asarray(frame.reformat(format="gray").to_ndarray(), np.uint8)


def y_plane(frame: av.VideoFrame) -> U8:
    """The Y plane of a yuv420p frame as a (height, width) array."""
    plane = frame.planes[0]
    data = np.frombuffer(memoryview(plane), np.uint8).reshape(plane.height, plane.line_size)
    return np.ascontiguousarray(data[:, : plane.width])


def ssim(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64], win: int = 8) -> float:
    """Mean SSIM over non-overlapping `win` x `win` blocks (luma, L = 255)."""
    h, w = (a.shape[0] // win) * win, (a.shape[1] // win) * win
    ba = a[:h, :w].reshape(h // win, win, w // win, win)
    bb = b[:h, :w].reshape(h // win, win, w // win, win)
    ma, mb = ba.mean(axis=(1, 3)), bb.mean(axis=(1, 3))
    va, vb = ba.var(axis=(1, 3)), bb.var(axis=(1, 3))
    cov = (ba * bb).mean(axis=(1, 3)) - ma * mb
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    s = ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma**2 + mb**2 + c1) * (va + vb + c2))
    return float(s.mean())


def quality(
    output: Path, sources: list[list[U8]], grid: int, samples: int = 12, skip: int = 30
) -> tuple[float, float]:
    """(Y-PSNR dB, SSIM) of `output` against the uncompressed canvas of the decoded sources.

    The canvas is a `grid` x `grid` mosaic of source frames at 1:1 scale (tile = source size). Each
    sampled output tile is matched to the source frame that fits it best (sources start at slightly
    different times), so the figures measure compression loss, not timing.
    """
    out = luma_frames(output)
    if len(out) <= skip:
        raise RuntimeError(f"{output}: only {len(out)} frames")
    picks = np.linspace(skip, len(out) - 1, samples).astype(int)
    th, tw = sources[0][0].shape
    subs = [np.stack([f[::4, ::4] for f in src]).astype(np.float32) for src in sources]
    mse_total, ssims = 0.0, []
    for k in picks:
        frame = out[k].astype(np.float64)
        ref = np.zeros_like(frame)
        for j in range(grid * grid):
            y0, x0 = (j // grid) * th, (j % grid) * tw
            tile = frame[y0 : y0 + th, x0 : x0 + tw]
            sub = tile[::4, ::4].astype(np.float32)
            best = int(np.argmin(((subs[j % len(subs)] - sub[None]) ** 2).mean(axis=(1, 2))))
            ref[y0 : y0 + th, x0 : x0 + tw] = sources[j % len(sources)][best]
        mse_total += float(((frame - ref) ** 2).mean())
        ssims.append(ssim(frame, ref))
    mse = mse_total / len(picks)
    psnr = 99.0 if mse == 0 else 10 * np.log10(255**2 / mse)
    return float(psnr), float(np.mean(ssims))
