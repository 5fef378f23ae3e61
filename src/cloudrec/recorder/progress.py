"""Stores what recorders report (status, stats, closed and stored segments, failures) in the database,
each report only while its recorder holds the task's lease."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
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
    SegmentStored,
    Started,
    Stats,
    TaskStatus,
    poster_name,
)
from cloudrec.recorder.store import storage_key

log = logging.getLogger(__name__)

_FINAL = (TaskStatus.DONE, TaskStatus.ERROR)


class DbProgressSink:
    """Applies progress events in order, one at a time, on its own thread (one DB writer).

    Recorders store their own segments: `SegmentClosed` records a file waiting for its store (where
    the recorder keeps it, for deletion and salvage on its machine), `SegmentStored` the object stored
    (the row is written then if no `SegmentClosed` came first). A finished task waits in status 5
    until every one of its files is stored; files whose recorder died unstored are stored by a salvage
    on the recorder side (`RecorderHost.salvage`, `tasks.restore`), never by the control plane.

    With `events`, every change that callbacks report adds its event to the outbox in the same
    transaction (nothing is lost, nothing is sent for a change that did not commit).

    A report of a recorder (with its lease `epoch`) first renews the task's lease, conditionally on that
    epoch, in the transaction that applies it: a recorder whose lease went to a successor changes
    nothing (counted in `fenced`, and `on_fenced(record_id, epoch)` is told). `Lost` goes to
    `on_lost(record_id, epoch, reason)`, which finds a successor; without one the task fails."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        events: CallbackEvents | None = None,
        lease_ttl_s: float = 10.0,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.events = events
        self.lease_ttl_s = lease_ttl_s
        self.on_lost: Callable[[str, int | None, str], None] | None = None
        self.on_fenced: Callable[[str, int], None] | None = None
        self.fenced = 0  # reports refused because their recorder no longer held the lease
        self._queue: queue.Queue[tuple[str, Progress, int | None] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="progress-sink", daemon=True)
        self._thread.start()

    def handle(self, record_id: str, event: Progress, epoch: int | None = None) -> None:
        self._queue.put((record_id, event, epoch))

    def drain(self) -> None:
        """Wait until every event handed in so far is applied."""
        self._queue.join()

    def close(self) -> None:
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

    def _apply(self, record_id: str, event: Progress, epoch: int | None) -> None:
        metrics.observe_progress(record_id, event)
        if isinstance(event, Lost):
            if self.on_lost is not None:
                self.on_lost(record_id, epoch, event.reason)
                return
            event = Failed(f"{event.reason}; segments written so far are kept")
        if isinstance(event, (SegmentClosed, SegmentStored)):
            self._segment(record_id, event, epoch)
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

    def _segment(self, record_id: str, event: SegmentClosed | SegmentStored, epoch: int | None) -> None:
        seg = event.segment
        with self.sessions.begin() as s:
            if not self._holds_lease(s, record_id, epoch) and self._exists(s, record_id):
                self._refuse(record_id, event, epoch)
                return
            task = s.scalar(select(Task).where(Task.record_id == record_id))
            if task is None or task.files_deleted:  # deleted meanwhile (a recorder still storing)
                log.warning("segment %s of a deleted task %s: ignored", seg.name, record_id)
                return
            row = s.scalar(select(File).where(File.task_id == task.id, File.index == seg.index))
            if row is None:
                row = self._add_row(s, task, seg, event)
            elif isinstance(event, SegmentClosed) or row.stored:
                return  # reported again (an adopted recorder's backlog, a second salvage)
            if isinstance(event, SegmentStored):
                self._mark_stored(s, task, row, event)

    @staticmethod
    def _add_row(s: Session, task: Task, seg: SegmentInfo, event: SegmentClosed | SegmentStored) -> File:
        if isinstance(event, SegmentStored):
            key, poster_key, local = event.key, event.poster_key, ""
        else:  # stored later by its recorder, which keeps it at `seg.path` until then
            key = storage_key(task.app_id, task.record_id, seg.name)
            poster_key = storage_key(task.app_id, task.record_id, poster_name(seg.name)) if seg.poster else ""
            local = seg.path
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
            local_path=local,
            poster_key=poster_key,
            **stream_columns(seg),
        )
        s.add(row)
        task.file_size += seg.size
        s.flush()
        return row

    def _mark_stored(self, s: Session, task: Task, row: File, event: SegmentStored) -> None:
        row.stored = True
        row.local_path = ""
        row.storage_key = event.key
        row.poster_key = event.poster_key
        if (row.size, row.md5) != (event.segment.size, event.segment.md5):
            log.warning("segment %s of %s was stored with another size or md5", row.name, task.record_id)
            task.file_size += event.segment.size - row.size
            row.size, row.md5 = event.segment.size, event.segment.md5
        s.flush()
        if self.events is not None:
            self.events.segment_stored(s, task, row)
        if task.status == TaskStatus.UPLOADING and not self._pending_files(s, task.id):
            task.status = TaskStatus.DONE
            task.done_time = self.clock.time()
            log.info("task %s done: every file stored", task.record_id)
            if self.events is not None:
                s.flush()
                self.events.done(s, task)
