"""The recorder's side of storage: each closed segment (and its poster) stored at once, with retries and
md5 checks, and reported as the object stored (`SegmentStored`), never as a local path."""

from __future__ import annotations

import hashlib
import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from cloudrec.recorder.spec import SegmentInfo, SegmentStored, poster_name
from cloudrec.storage.spec import StorageSpec, open_storage
from cloudrec.storage.uploader import Uploader

log = logging.getLogger(__name__)


def storage_key(app_id: str, record_id: str, name: str) -> str:
    """The key of a task's file in the store (the same on every machine)."""
    return f"{app_id}/{record_id}/{name}"


def _md5(path: str) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest() if Path(path).is_file() else ""


class SegmentStore:
    """Stores the closed segments of one task in the background (today's `Uploader`: retries with
    backoff for ever, the local copy kept until the store confirms it) and tells `emit` of each one
    confirmed, from the uploader's thread. `key(name)` is a file's key (default: `storage_key`)."""

    def __init__(
        self,
        storage: StorageSpec,
        app_id: str,
        record_id: str,
        emit: Callable[[SegmentStored], None],
        max_backoff_s: float = 30.0,
        key: Callable[[str], str] | None = None,
    ) -> None:
        self.app_id = app_id
        self.record_id = record_id
        self.emit = emit
        self.key = key or (lambda name: storage_key(app_id, record_id, name))
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._jobs: dict[int, tuple[SegmentInfo, str, str]] = {}  # id -> segment, key, poster key
        self._failures: dict[int, list[float]] = {}
        self._last_try: dict[int, float] = {}
        self.uploader = Uploader(open_storage(storage), self._stored, max_backoff_s, on_try=self._tried)

    def submit(self, seg: SegmentInfo) -> None:
        key = self.key(seg.name)
        poster_key = self.key(poster_name(seg.name)) if seg.poster else ""
        before = ((poster_key, seg.poster, seg.poster_md5 or _md5(seg.poster)),) if poster_key else ()
        with self._lock:
            job = next(self._ids)
            self._jobs[job] = (seg, key, poster_key)
        self.uploader.submit(job, key, seg.path, seg.md5, before)

    def pending(self) -> int:
        with self._lock:
            return len(self._jobs)

    def unstored(self) -> list[SegmentInfo]:
        with self._lock:
            return [seg for seg, _, _ in self._jobs.values()]

    def wait(self, timeout_s: float) -> bool:
        """Whether everything submitted is stored (waiting up to `timeout_s`)."""
        return self.uploader.wait_idle(timeout_s) and self.pending() == 0

    def close(self) -> None:
        self.uploader.close()

    def _tried(self, job: int, ok: bool, seconds: float) -> None:
        with self._lock:
            if ok:
                self._last_try[job] = seconds
            else:
                self._failures.setdefault(job, []).append(seconds)

    def _stored(self, job: int) -> None:
        with self._lock:
            seg, key, poster_key = self._jobs.pop(job)
            failures = tuple(self._failures.pop(job, ()))
            took = self._last_try.pop(job, 0.0)
        # the object as stored: where the recorder kept it is nobody else's business
        stored = replace(seg, path="", poster="")
        self.emit(SegmentStored(stored, key, poster_key, took, failures))
