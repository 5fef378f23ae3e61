"""The host's side of live snapshots: the latest JPEG of each watched task, asked for again when stale."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from cloudrec.recorder.spec import Command, RequestSnapshot, Snapshot

# The contract of the snapshot endpoint: the picture is at most this old.
MAX_AGE_S = 1.0
# A request keeps the recorder encoding this long; asked again when less than ASK_AGAIN_S is left, so
# a console refreshing every second sends a command every few seconds, and a closed one stops it soon.
INTEREST_S = 5.0
ASK_AGAIN_S = 3.0
# The first picture needs the command delivered, the recorder's next tick and one JPEG encoding.
WAIT_S = 3.0


class SnapshotCache:
    """Latest `Snapshot` per width of one task; thread-safe (the host's monitor thread puts)."""

    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        self.wall = wall
        self._cv = threading.Condition()
        self._shots: dict[int, Snapshot] = {}
        self._asked: dict[int, float] = {}  # width → Unix time the recorder's current request expires

    def put(self, shot: Snapshot) -> None:
        with self._cv:
            self._shots[shot.width] = shot
            self._cv.notify_all()

    def get(self, width: int, send: Callable[[Command], bool]) -> Snapshot | None:
        """A snapshot at most MAX_AGE_S old, waiting up to WAIT_S for one; `send` delivers the request
        to the recorder (False: it does not run). None when none came, or the recorder has no picture."""
        now = self.wall()
        with self._cv:
            ask = self._asked.get(width, 0.0) - now < ASK_AGAIN_S
            if ask:
                self._asked[width] = now + INTEREST_S
        if ask and not send(RequestSnapshot(until=now + INTEREST_S, width=width)):
            with self._cv:
                self._asked.pop(width, None)
            return None
        deadline = now + WAIT_S
        with self._cv:
            while True:
                shot = self._shots.get(width)
                now = self.wall()
                if shot is not None and now - shot.at <= MAX_AGE_S:
                    return shot if shot.jpeg else None
                if now >= deadline:
                    return None
                self._cv.wait(deadline - now)
