"""Moves closed segments into storage in the background, retrying with backoff until the store confirms."""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from cloudrec.storage.base import Storage

log = logging.getLogger(__name__)

_Objects = tuple[tuple[str, str, str], ...]  # (key, local path, md5) of each object


class Uploader:
    """One worker thread; `submit(file_id, key, path, md5)`; `on_stored(file_id)` once confirmed.

    `before` objects (a segment's poster) are stored first, in the same job: a confirmed file has its
    poster stored too. One whose local copy is gone was stored by an earlier try (stores remove the
    local copy only once they confirmed it).

    `on_try(file_id, ok, seconds)` hears of every try (the recorder reports the figures with the object).
    A main object whose local copy is gone was stored by another try too (two processes may store the
    same leftovers after a crash: the second finds nothing to do).

    A failed upload is tried again after 1, 2, 4 … seconds (at most `max_backoff_s`), for ever: the local
    copy is the only one until the store confirms, so giving up would lose the recording."""

    def __init__(
        self,
        storage: Storage,
        on_stored: Callable[[int], None],
        max_backoff_s: float = 30.0,
        first_backoff_s: float = 0.5,
        on_try: Callable[[int, bool, float], None] | None = None,
    ) -> None:
        self.storage = storage
        self.on_stored = on_stored
        self.on_try = on_try
        self.max_backoff_s = max_backoff_s
        self.first_backoff_s = first_backoff_s
        self._heap: list[tuple[float, int, str, str, str, float, _Objects]] = []
        self._cv = threading.Condition()
        self._busy = 0
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="uploader", daemon=True)
        self._thread.start()

    def submit(self, file_id: int, key: str, path: str, md5: str, before: _Objects = ()) -> None:
        with self._cv:
            heapq.heappush(self._heap, (0.0, file_id, key, path, md5, self.first_backoff_s, before))
            self._cv.notify()

    def pending(self) -> int:
        with self._cv:
            return len(self._heap) + self._busy

    def wait_idle(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        with self._cv:
            while self._heap or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cv.wait(left)
        return True

    def close(self) -> None:
        with self._cv:
            self._closing = True
            self._cv.notify_all()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._closing and (not self._heap or self._heap[0][0] > time.monotonic()):
                    self._cv.wait(None if not self._heap else max(0.0, self._heap[0][0] - time.monotonic()))
                if self._closing:
                    return
                _, file_id, key, path, md5, backoff, before = heapq.heappop(self._heap)
                self._busy += 1
            ok = False
            started = time.perf_counter()
            try:
                for extra_key, extra_path, extra_md5 in before:
                    if Path(extra_path).exists():
                        self.storage.put(extra_key, Path(extra_path), extra_md5)
                if Path(path).exists():
                    self.storage.put(key, Path(path), md5)
                else:
                    log.info("%s: no local copy left, stored by an earlier try", key)
                ok = True
            except Exception as exc:  # noqa: BLE001 - any failure: keep the local copy, try again
                log.warning("upload of %s failed (%s): again in %.1f s", key, exc, backoff)
            took = time.perf_counter() - started
            if self.on_try is not None:
                self.on_try(file_id, ok, took)
            with self._cv:
                self._busy -= 1
                if not ok:
                    heapq.heappush(
                        self._heap,
                        (
                            time.monotonic() + backoff,
                            file_id,
                            key,
                            path,
                            md5,
                            min(backoff * 2, self.max_backoff_s),
                            before,
                        ),
                    )
                self._cv.notify_all()
            if ok:
                try:
                    self.on_stored(file_id)
                except Exception:
                    log.exception("could not record the upload of %s", key)
