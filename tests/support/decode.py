"""Decode recorded files for assertions: frames as RGB arrays with times, audio as float samples."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from numpy.typing import NDArray

RGB = tuple[int, int, int]


def video_frames(path: Path) -> list[tuple[float, NDArray[np.uint8]]]:
    """(time in seconds, H×W×3 RGB) of every video frame."""
    out: list[tuple[float, NDArray[np.uint8]]] = []
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        for frame in c.decode(stream):
            t = float(frame.time) if frame.time is not None else 0.0
            out.append((t, np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)))
    return out


def frame_near(frames: list[tuple[float, NDArray[np.uint8]]], t: float) -> NDArray[np.uint8]:
    return min(frames, key=lambda f: abs(f[0] - t))[1]


def pixel(frame: NDArray[np.uint8], x: int, y: int, radius: int = 2) -> RGB:
    """Mean colour of a small square around (x, y): robust against single-pixel codec noise."""
    patch = frame[max(0, y - radius) : y + radius + 1, max(0, x - radius) : x + radius + 1].reshape(-1, 3)
    r, g, b = (int(v) for v in patch.mean(axis=0))
    return (r, g, b)


def close(actual: RGB, expected: RGB, tol: int = 40) -> bool:
    return all(abs(a - e) <= tol for a, e in zip(actual, expected, strict=True))


def audio_samples(path: Path) -> tuple[NDArray[np.float64], int]:
    """Mono float samples in [-1, 1] and the sample rate."""
    chunks: list[NDArray[np.float64]] = []
    rate = 48000
    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=stream.rate or rate)
        rate = stream.rate or rate
        for frame in c.decode(stream):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1).astype(np.float64))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1).astype(np.float64))
    return (np.concatenate(chunks) if chunks else np.zeros(0), rate)


def tone_share(samples: NDArray[np.float64], rate: int, hz: float, band: float = 20.0) -> float:
    """Share of the signal's spectral energy within ±band Hz of `hz` (0..1)."""
    if samples.size == 0:
        return 0.0
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size))) ** 2
    freqs = np.fft.rfftfreq(samples.size, 1.0 / rate)
    total = float(spectrum.sum())
    if total <= 0:
        return 0.0
    return float(spectrum[(freqs > hz - band) & (freqs < hz + band)].sum()) / total


def rms(samples: NDArray[np.float64]) -> float:
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


def media_duration(path: Path) -> float:
    """Seconds of media, by decoding: the decoded audio samples over the rate, or for a file without
    audio the span of its decoded video frames (plus one frame)."""
    with av.open(str(path)) as c:
        if c.streams.audio:
            samples = sum(f.samples for f in c.decode(c.streams.audio[0]))
            return samples / float(c.streams.audio[0].rate or 48000)
        stream = c.streams.video[0]
        times = [float(f.time) for f in c.decode(stream) if f.time is not None]
        rate = float(stream.average_rate or 30)
    return (max(times) - min(times) + 1 / rate) if times else 0.0
