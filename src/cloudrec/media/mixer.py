"""Audio mixing: per-source jitter buffers of 48 kHz stereo s16 samples, summed with clipping."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 48_000
CHANNELS = 2

Samples = npt.NDArray[np.int16]  # shape (n, 2), interleaved stereo


def silence(n: int) -> Samples:
    """`n` stereo samples of silence."""
    return np.zeros((n, CHANNELS), dtype=np.int16)


class JitterBuffer:
    """A thread-safe FIFO of stereo samples that absorbs delivery jitter.

    Playout starts once `prefill` samples are buffered and restarts that way after an underrun (the
    missing part is silence, never a gap in the output). When more than `cap` samples pile up (the
    source runs fast, or nobody pulls), the oldest are dropped down to `drop_to`.
    """

    def __init__(
        self,
        *,
        prefill: int = SAMPLE_RATE * 50 // 1000,
        cap: int = SAMPLE_RATE * 200 // 1000,
        drop_to: int = SAMPLE_RATE * 100 // 1000,
    ) -> None:
        self.prefill = prefill
        self.cap = cap
        self.drop_to = drop_to
        self._lock = threading.Lock()
        self._chunks: deque[Samples] = deque()
        self._size = 0
        self._playing = False
        self.dropped = 0  # samples dropped for overflow
        self.underruns = 0  # pulls that had to pad with silence

    @property
    def buffered(self) -> int:
        return self._size

    def push(self, samples: Samples) -> None:
        """Append samples (shape (n, 2), int16)."""
        if len(samples) == 0:
            return
        with self._lock:
            self._chunks.append(samples)
            self._size += len(samples)
            if self._size > self.cap:
                self._discard(self._size - self.drop_to)

    def _discard(self, n: int) -> None:
        self.dropped += n
        self._size -= n
        while n > 0:
            head = self._chunks[0]
            if len(head) <= n:
                self._chunks.popleft()
                n -= len(head)
            else:
                self._chunks[0] = head[n:]
                n = 0

    def trim(self, keep: int) -> None:
        """Drop the oldest samples so that at most `keep` remain (e.g. after a suspension)."""
        with self._lock:
            if self._size > keep:
                self._discard(self._size - keep)

    def clear(self) -> None:
        with self._lock:
            self._chunks.clear()
            self._size = 0
            self._playing = False

    def pull(self, n: int) -> Samples | None:
        """The next `n` samples, padded with silence; None while nothing is to be played."""
        with self._lock:
            if not self._playing:
                if self._size < self.prefill or self._size == 0:
                    return None
                self._playing = True
            take = min(n, self._size)
            if take == n and len(self._chunks[0]) >= n:
                head = self._chunks[0]
                out = head[:n]
                if len(head) == n:
                    self._chunks.popleft()
                else:
                    self._chunks[0] = head[n:]
                self._size -= n
                return out
            out = silence(n)
            filled = 0
            while filled < take:
                head = self._chunks[0]
                part = min(len(head), take - filled)
                out[filled : filled + part] = head[:part]
                filled += part
                if part == len(head):
                    self._chunks.popleft()
                else:
                    self._chunks[0] = head[part:]
            self._size -= take
            if take < n:
                self.underruns += 1
                self._playing = False
            return out


def mix(parts: Iterable[Samples | None], n: int) -> Samples:
    """The sum of `parts` (each n samples or None for silence), clipped to int16."""
    acc: npt.NDArray[np.int32] | None = None
    single: Samples | None = None
    for part in parts:
        if part is None:
            continue
        if single is None and acc is None:
            single = part
            continue
        if acc is None:
            assert single is not None
            acc = single.astype(np.int32)
        acc += part
    if acc is not None:
        return np.clip(acc, -32768, 32767).astype(np.int16)
    if single is not None:
        return single
    return silence(n)
