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
    """A thread-safe FIFO of stereo samples stamped with the clock time their first sample is due.

    `pull(n, at)` returns the samples due from `at` on. When playout (re)starts the first sample is
    placed exactly: stale samples are dropped, early ones get silence before them. While playing,
    samples are read contiguously as long as they stay within `tolerance` of their due time (no
    clicks for jitter), and realigned beyond it. What is missing is silence: the output never has a
    gap. More than `cap` seconds buffered (nobody pulls,
    e.g. while suspended) drops the oldest.
    """

    def __init__(self, *, tolerance: float = 0.03, cap: float = 2.0) -> None:
        self.tolerance = tolerance
        self.cap = int(cap * SAMPLE_RATE)
        self._lock = threading.Lock()
        self._chunks: deque[tuple[float, Samples]] = deque()  # (due of the first sample, samples)
        self._size = 0
        self._playing = False
        self.dropped = 0  # samples dropped: stale or overflow
        self.padded = 0  # samples of silence inserted for missing or early audio

    @property
    def buffered(self) -> int:
        return self._size

    def push(self, samples: Samples, due: float) -> None:
        """Append samples (shape (n, 2), int16) whose first sample is due at `due`."""
        if len(samples) == 0:
            return
        with self._lock:
            self._chunks.append((due, samples))
            self._size += len(samples)
            if self._size > self.cap:
                self._discard(self._size - self.cap)

    def _discard(self, n: int) -> None:
        self.dropped += n
        self._size -= n
        while n > 0:
            due, head = self._chunks[0]
            if len(head) <= n:
                self._chunks.popleft()
                n -= len(head)
            else:
                self._chunks[0] = (due + n / SAMPLE_RATE, head[n:])
                n = 0

    def shift(self, seconds: float) -> None:
        """Move the due time of every buffered sample by `seconds`."""
        with self._lock:
            self._chunks = deque((due + seconds, samples) for due, samples in self._chunks)

    def clear(self) -> None:
        with self._lock:
            self._chunks.clear()
            self._size = 0
            self._playing = False

    def pull(self, n: int, at: float) -> Samples | None:
        """The `n` samples due from `at` on, padded with silence; None when none is due."""
        with self._lock:
            if not self._chunks:
                self._playing = False
                return None
            tolerance = self.tolerance if self._playing else 0.5 / SAMPLE_RATE
            head_due = self._chunks[0][0]
            if head_due < at - tolerance:  # stale: catch up
                self._discard(min(self._size, round((at - head_due) * SAMPLE_RATE)))
                if not self._chunks:
                    self._playing = False
                    return None
                head_due = self._chunks[0][0]
            lead = 0
            if head_due > at + tolerance:  # early: silence until it is due
                lead = round((head_due - at) * SAMPLE_RATE)
                if lead >= n:
                    self._playing = False
                    return None
            self._playing = True
            want = n - lead
            if lead == 0 and len(self._chunks[0][1]) >= n:  # the common case: one slice, no copy
                due, head = self._chunks[0]
                out = head[:n]
                if len(head) == n:
                    self._chunks.popleft()
                else:
                    self._chunks[0] = (due + n / SAMPLE_RATE, head[n:])
                self._size -= n
                return out
            out = silence(n)
            filled = 0
            while filled < want and self._chunks:
                due, head = self._chunks[0]
                part = min(len(head), want - filled)
                out[lead + filled : lead + filled + part] = head[:part]
                filled += part
                if part == len(head):
                    self._chunks.popleft()
                else:
                    self._chunks[0] = (due + part / SAMPLE_RATE, head[part:])
            self._size -= filled
            self.padded += n - filled
            if lead + filled < n:
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
