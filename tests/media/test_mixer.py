"""Jitter buffer and mixing tests."""

from __future__ import annotations

import numpy as np

from cloudrec.media.mixer import JitterBuffer, mix, silence


def ramp(n: int, start: int = 1) -> np.ndarray:
    v = np.arange(start, start + n, dtype=np.int16)
    return np.stack([v, -v], axis=1)


R = 48_000


def test_samples_come_out_at_their_due_time() -> None:
    buf = JitterBuffer(tolerance=0.01)
    buf.push(ramp(480), due=10.0)  # 10 ms from t = 10.0
    buf.push(ramp(480, 481), due=10.01)
    assert buf.pull(100, at=9.9) is None  # nothing due yet
    out = buf.pull(480, at=10.0)
    assert out is not None and out[0, 0] == 1 and out[-1, 0] == 480
    out = buf.pull(480, at=10.0105)  # within the tolerance: contiguous, no click
    assert out is not None and out[0, 0] == 481 and out[-1, 0] == 960


def test_early_audio_gets_leading_silence_and_missing_audio_trailing_silence() -> None:
    buf = JitterBuffer(tolerance=0.004)
    buf.push(ramp(480), due=1.005)  # 240 samples after `at`
    out = buf.pull(480, at=1.0)
    assert out is not None and not out[:240].any() and out[240, 0] == 1 and out[-1, 0] == 240
    out = buf.pull(480, at=1.01)
    assert out is not None and out[0, 0] == 241 and out[239, 0] == 480 and not out[240:].any()
    assert buf.padded == 240 + 240 and buf.buffered == 0


def test_stale_audio_is_dropped() -> None:
    buf = JitterBuffer(tolerance=0.005)
    buf.push(ramp(4800), due=5.0)  # 100 ms
    out = buf.pull(480, at=5.05)
    assert out is not None and out[0, 0] == 2401  # the first 50 ms were stale
    assert buf.dropped == 2400
    assert buf.pull(480, at=7.0) is None and buf.buffered == 0


def test_overflow_drops_the_oldest() -> None:
    buf = JitterBuffer(cap=0.01)  # 480 samples
    for i in range(4):
        buf.push(ramp(200, 1 + 200 * i), due=i * 200 / R)
    assert buf.buffered == 480 and buf.dropped == 320
    out = buf.pull(10, at=320 / R)
    assert out is not None and out[0, 0] == 321


def test_mix_sums_and_clips() -> None:
    a = np.full((4, 2), 20_000, np.int16)
    b = np.full((4, 2), 15_000, np.int16)
    c = np.full((4, 2), -30_000, np.int16)
    assert (mix([a, b], 4) == 32767).all()
    assert (mix([a, None, c], 4) == -10_000).all()
    assert (mix([c, c], 4) == -32768).all()
    assert (mix([None, None], 4) == silence(4)).all()
    assert mix([a], 4) is a
