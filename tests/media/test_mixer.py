"""Jitter buffer and mixing tests."""

from __future__ import annotations

import numpy as np

from cloudrec.media.mixer import JitterBuffer, mix, silence


def ramp(n: int, start: int = 1) -> np.ndarray:
    v = np.arange(start, start + n, dtype=np.int16)
    return np.stack([v, -v], axis=1)


def test_prefill_then_play_then_pad_on_underrun() -> None:
    buf = JitterBuffer(prefill=100, cap=1000, drop_to=500)
    buf.push(ramp(60))
    assert buf.pull(50) is None  # still buffering
    buf.push(ramp(60, 61))
    out = buf.pull(50)
    assert out is not None and out.shape == (50, 2) and out[0, 0] == 1 and out[49, 0] == 50
    out = buf.pull(80)
    assert out is not None and out.shape == (80, 2)
    assert list(out[:70, 0]) == list(range(51, 121)) and not out[70:].any()  # padded, never short
    assert buf.underruns == 1 and buf.pull(10) is None  # buffering again after the underrun


def test_overflow_drops_the_oldest() -> None:
    buf = JitterBuffer(prefill=10, cap=300, drop_to=200)
    for i in range(4):
        buf.push(ramp(100, 1 + 100 * i))
    assert buf.buffered == 200 and buf.dropped == 200
    out = buf.pull(10)
    assert out is not None and out[0, 0] == 201


def test_trim_keeps_the_newest() -> None:
    buf = JitterBuffer(prefill=10, cap=10_000, drop_to=5_000)
    buf.push(ramp(300))
    buf.trim(40)
    out = buf.pull(40)
    assert out is not None and out[0, 0] == 261 and out[-1, 0] == 300


def test_mix_sums_and_clips() -> None:
    a = np.full((4, 2), 20_000, np.int16)
    b = np.full((4, 2), 15_000, np.int16)
    c = np.full((4, 2), -30_000, np.int16)
    assert (mix([a, b], 4) == 32767).all()
    assert (mix([a, None, c], 4) == -10_000).all()
    assert (mix([c, c], 4) == -32768).all()
    assert (mix([None, None], 4) == silence(4)).all()
    assert mix([a], 4) is a
