"""Stores what recorders report (status, stats, segment files moved to storage at once, failures), each
report only while its recorder holds the task's lease."""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from cloudrec import metrics
from cloudrec.callbacks.events import CallbackEvents
from cloudrec.clock import Clock
from cloudrec.db.models import File, Task
from cloudrec.recorder.build import stream_columns
from cloudrec.recorder.spec import (
    Failed,
    Finished,
    Lost,
    Progress,
    SegmentClosed,
    SegmentInfo,
    Started,
    Stats,
    TaskStatus,
    poster_name,
)
from cloudrec.storage.base import Storage
from cloudrec.storage.uploader import Uploader

log = logging.getLogger(__name__)

_FINAL = (TaskStatus.DONE, TaskStatus.ERROR)


def storage_key(app_id: str, record_id: str, name: str) -> str:
    return f"{app_id}/{record_id}/{name}"


@dataclass(frozen=True)
class _Stored:
    """Internal event: the store confirmed the upload of a file row."""

    file_id: int


class DbProgressSink:
    """Applies progress events in order, one at a time, on its own thread (one DB writer).

    A closed segment is recorded (with its local path) before its upload starts, so that nothing is
    lost if the store is down or the server stops: `resume_uploads` picks pending files up again. A
    finished task waits in status 5 until every one of its files is confirmed by the store.

    With `events`, every change that callbacks report adds its event to the outbox in the same
    transaction (nothing is lost, nothing is sent for a change that did not commit).

    A report of a recorder (with its lease `epoch`) first renews the task's lease, conditionally on that
    epoch, in the transaction that applies it: a recorder whose lease went to a successor changes
    nothing (counted in `fenced`, and `on_fenced(record_id, epoch)` is told). `Lost` goes to
    `on_lost(record_id, epoch, reason)`, which finds a successor; without one the task fails."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        storage: Storage,
        clock: Clock,
        events: CallbackEvents | None = None,
        lease_ttl_s: float = 10.0,
    ) -> None:
        self.sessions = sessions
        self.storage = storage
        self.clock = clock
        self.events = events
        self.lease_ttl_s = lease_ttl_s
        self.on_lost: Callable[[str, int | None, str], None] | None = None
        self.on_fenced: Callable[[str, int], None] | None = None
        self.fenced = 0  # reports refused because their recorder no longer held the lease
        self._queue: queue.Queue[tuple[str, Progress | _Stored, int | None] | None] = queue.Queue()
        self.uploader = Uploader(storage, lambda file_id: self._queue.put(("", _Stored(file_id), None)))
        self._thread = threading.Thread(target=self._run, name="progress-sink", daemon=True)
        self._thread.start()

    def resume_uploads(self) -> int:
        """Submit every file that the store has not confirmed yet (after a restart); how many."""
        with self.sessions() as s:
            rows = s.execute(
                select(File.id, File.storage_key, File.local_path, File.md5, File.poster_key).where(
                    File.stored.is_(False)
                )
            ).all()
        for file_id, key, path, md5, poster_key in rows:
            self.uploader.submit(file_id, key, path, md5, self._poster(poster_key, path))
        return len(rows)

    def handle(self, record_id: str, event: Progress, epoch: int | None = None) -> None:
        self._queue.put((record_id, event, epoch))

    def drain(self, uploads_timeout_s: float = 0.0) -> None:
        """Wait until every event handed in so far is applied (and uploads finish, up to a timeout)."""
        self._queue.join()
        if uploads_timeout_s > 0 and self.uploader.wait_idle(uploads_timeout_s):
            self._queue.join()

    def close(self) -> None:
        self.uploader.close()
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                record_id, event, epoch = item
                try:
                    self._apply(record_id, event, epoch)
                except Exception:
                    log.exception("could not apply %s of %s", type(event).__name__, record_id)
                if self.events is not None:
                    self.events.wake()
            finally:
                self._queue.task_done()

    def _holds_lease(self, s: Session, record_id: str, epoch: int | None) -> bool:
        """Renew the lease of `epoch` (None: the control plane's own write, always applied). The
        conditional UPDATE comes first: it locks the row until the change commits, so a takeover
        (an UPDATE of the epoch) waits for it or has already made it fail."""
        if epoch is None:
            return True
        result = s.execute(
            update(Task)
            .where(Task.record_id == record_id, Task.lease_epoch == epoch)
            .values(lease_expires=time.time() + self.lease_ttl_s),
            execution_options={"synchronize_session": False},
        )
        return int(cast(CursorResult[Any], result).rowcount) > 0

    @staticmethod
    def _exists(s: Session, record_id: str) -> bool:
        return s.scalar(select(Task.id).where(Task.record_id == record_id)) is not None

    def _refuse(self, record_id: str, event: Progress, epoch: int | None) -> None:
        assert epoch is not None
        self.fenced += 1
        log.warning(
            "%s of %s from a recorder without the lease (epoch %d): ignored",
            type(event).__name__,
            record_id,
            epoch,
        )
        if self.on_fenced is not None:
            self.on_fenced(record_id, epoch)

    def _apply(self, record_id: str, event: Progress | _Stored, epoch: int | None) -> None:
        metrics.observe_progress(record_id, event)
        if isinstance(event, _Stored):
            self._mark_stored(event.file_id)
            return
        if isinstance(event, Lost):
            if self.on_lost is not None:
                self.on_lost(record_id, epoch, event.reason)
                return
            event = Failed(f"{event.reason}; segments written so far are kept")
        if isinstance(event, SegmentClosed):
            self._store_segment(record_id, event.segment, epoch)
            return
        with self.sessions.begin() as s:
            if not self._holds_lease(s, record_id, epoch) and self._exists(s, record_id):
                self._refuse(record_id, event, epoch)
                return
            task = s.scalar(select(Task).where(Task.record_id == record_id))
            if task is None:
                log.warning("progress for unknown task %s: %s", record_id, type(event).__name__)
                return
            now = self.clock.time()
            if isinstance(event, Started):
                if task.start_time is None:
                    task.start_time = event.at
                    if self.events is not None:
                        self.events.started(s, task)
            elif isinstance(event, Stats):
                # a successor's figures start at 0: what its predecessors recorded comes first
                task.media_duration = task.media_base + event.media_duration
                task.flow_bytes = task.flow_base + event.flow_bytes
            elif isinstance(event, Finished):
                if task.status in _FINAL:
                    return
                task.media_duration = task.media_base + event.stats.media_duration
                task.flow_bytes = task.flow_base + event.stats.flow_bytes
                if task.stop_time is None:
                    task.stop_time = now
                task.record_duration = max(0.0, task.stop_time - (task.start_time or task.stop_time))
                # Every segment is closed (events are applied in order): encoding (4) is behind us.
                if self._pending_files(s, task.id):
                    task.status = TaskStatus.UPLOADING
                    log.info("task %s finished, waiting for uploads", record_id)
                else:
                    task.status = TaskStatus.DONE
                    task.done_time = now
                    log.info("task %s done%s", record_id, " (timed out)" if event.timed_out else "")
                if self.events is not None:
                    s.flush()
                    self.events.finished(s, task, event.timed_out)
                    if task.status == TaskStatus.DONE:
                        self.events.done(s, task)
            elif isinstance(event, Failed):
                if task.status in _FINAL:
                    return
                task.status = TaskStatus.ERROR
                task.error = event.reason
                if task.stop_time is None:
                    task.stop_time = now
                task.record_duration = max(0.0, task.stop_time - (task.start_time or task.stop_time))
                task.done_time = now
                log.error("task %s failed: %s", record_id, event.reason)
                if self.events is not None:
                    self.events.failed(s, task, event.reason)

    @staticmethod
    def _pending_files(s: Session, task_id: int) -> int:
        return (
            s.scalar(select(func.count(File.id)).where(File.task_id == task_id, File.stored.is_(False))) or 0
        )

    @staticmethod
    def _poster(poster_key: str, path: str) -> tuple[tuple[str, str, str], ...]:
        """The poster waiting for its upload beside the segment at `path`, if any (after a restart)."""
        local = Path(path).with_name(poster_name(Path(path).name))
        if not poster_key or not local.is_file():
            return ()
        return ((poster_key, str(local), hashlib.md5(local.read_bytes()).hexdigest()),)

    def _store_segment(self, record_id: str, seg: SegmentInfo, epoch: int | None) -> None:
        with self.sessions.begin() as s:
            if not self._holds_lease(s, record_id, epoch) and self._exists(s, record_id):
                self._refuse(record_id, SegmentClosed(seg), epoch)
                return
            task = s.scalar(select(Task).where(Task.record_id == record_id))
            if task is None:
                log.warning("segment %s of unknown task %s left in %s", seg.name, record_id, seg.path)
                return
            if s.scalar(select(File.id).where(File.task_id == task.id, File.index == seg.index)) is not None:
                return
            key = storage_key(task.app_id, record_id, seg.name)
            poster_key = storage_key(task.app_id, record_id, poster_name(seg.name)) if seg.poster else ""
            row = File(
                task_id=task.id,
                index=seg.index,
                name=seg.name,
                storage_key=key,
                size=seg.size,
                md5=seg.md5,
                duration=seg.duration,
                start_time=seg.start_time,
                stored=False,
                local_path=seg.path,
                poster_key=poster_key,
                **stream_columns(seg),
            )
            s.add(row)
            task.file_size += seg.size
            s.flush()
            file_id = row.id
        poster = ((poster_key, seg.poster, seg.poster_md5),) if poster_key else ()
        self.uploader.submit(file_id, key, seg.path, seg.md5, poster)

    def _mark_stored(self, file_id: int) -> None:
        with self.sessions.begin() as s:
            row = s.get(File, file_id)
            if row is None:
                return
            newly = not row.stored
            row.stored = True
            row.local_path = ""
            task = s.get(Task, row.task_id)
            s.flush()
            if newly and task is not None and self.events is not None:
                self.events.segment_stored(s, task, row)
            if (
                task is not None
                and task.status == TaskStatus.UPLOADING
                and not self._pending_files(s, task.id)
            ):
                task.status = TaskStatus.DONE
                task.done_time = self.clock.time()
                log.info("task %s done: every file stored", task.record_id)
                if self.events is not None:
                    s.flush()
                    self.events.done(s, task)
