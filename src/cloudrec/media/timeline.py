"""The timeline of a per-stream recording: its start, its pauses and its end, in Unix time."""

from __future__ import annotations

import threading
from enum import Enum


class Phase(Enum):
    RECORDING = 1
    PAUSED = 2
    ENDED = 3


class Timeline:
    """When the task records (thread-safe: the recording loop changes it, stream threads ask it).

    Media shown at Unix time `w` is recorded unless `w` falls in a pause or at or after the end;
    `offset(w)` places it on the task's timeline (seconds from the start, pauses cut out; a successor
    recorder's begins at `base`, the gap before it cut out like a pause), so that the files of several
    streams can be lined up again. Media from before the start is recorded too (the media server's
    cached GOP of a stream live at the start: its file then starts a little before 0, or `base`).
    """

    def __init__(self, start: float, *, paused: bool = False, base: float = 0.0) -> None:
        self.start = start
        self.base = base  # the task's timeline at `start` (a successor's: what was recorded before it)
        self._lock = threading.Lock()
        self._pauses: list[list[float]] = [[start, float("inf")]] if paused else []
        self._end = float("inf")

    def suspend(self, at: float) -> None:
        with self._lock:
            if not self._pauses or self._pauses[-1][1] != float("inf"):
                last_end = self._pauses[-1][1] if self._pauses else self.start
                self._pauses.append([max(at, last_end), float("inf")])

    def resume(self, at: float) -> None:
        with self._lock:
            if self._pauses and self._pauses[-1][1] == float("inf"):
                self._pauses[-1][1] = max(at, self._pauses[-1][0])

    def finish(self, at: float) -> None:
        with self._lock:
            self._end = min(self._end, at)

    @property
    def ending(self) -> bool:
        return self._end != float("inf")

    def phase(self, w: float) -> Phase:
        with self._lock:
            if w >= self._end:
                return Phase.ENDED
            for begin, end in self._pauses:
                if begin <= w < end:
                    return Phase.PAUSED
            return Phase.RECORDING

    def offset(self, w: float) -> float:
        """Seconds of the task's timeline before Unix time `w` (negative before the start)."""
        with self._lock:
            cut = sum(max(0.0, min(w, end) - begin) for begin, end in self._pauses if begin < w)
        return self.base + w - self.start - cut

    def recorded(self, now: float) -> float:
        """Seconds of the timeline from `start` up to `now` (or its end): the task's media duration
        (a successor's, which the server adds to what its predecessors recorded)."""
        return max(0.0, self.offset(min(now, self._end)) - self.base)
