"""Stores what recorders report: status, stats, segment files (moved to storage at once), failures."""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cloudrec.callbacks.events import CallbackEvents
from cloudrec.clock import Clock
from cloudrec.db.models import File, Task
from cloudrec.recorder.build import stream_columns
from cloudrec.recorder.spec import (
    Failed,
    Finished,
    Progress,
    SegmentClosed,
    SegmentInfo,
    Started,
    Stats,
    TaskStatus,
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
    transaction (nothing is lost, nothing is sent for a change that did not commit)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        storage: Storage,
        clock: Clock,
        events: CallbackEvents | None = None,
    ) -> None:
        self.sessions = sessions
        self.storage = storage
        self.clock = clock
        self.events = events
        self._queue: queue.Queue[tuple[str, Progress | _Stored] | None] = queue.Queue()
        self.uploader = Uploader(storage, lambda file_id: self._queue.put(("", _Stored(file_id))))
        self._thread = threading.Thread(target=self._run, name="progress-sink", daemon=True)
        self._thread.start()

    def resume_uploads(self) -> int:
        """Submit every file that the store has not confirmed yet (after a restart); how many."""
        with self.sessions() as s:
            rows = s.execute(
                select(File.id, File.storage_key, File.local_path, File.md5).where(File.stored.is_(False))
            ).all()
        for file_id, key, path, md5 in rows:
            self.uploader.submit(file_id, key, path, md5)
        return len(rows)

    def handle(self, record_id: str, event: Progress) -> None:
        self._queue.put((record_id, event))

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
                record_id, event = item
                try:
                    self._apply(record_id, event)
                except Exception:
                    log.exception("could not apply %s of %s", type(event).__name__, record_id)
                if self.events is not None:
                    self.events.wake()
            finally:
                self._queue.task_done()

    def _apply(self, record_id: str, event: Progress | _Stored) -> None:
        if isinstance(event, SegmentClosed):
            self._store_segment(record_id, event.segment)
            return
        if isinstance(event, _Stored):
            self._mark_stored(event.file_id)
            return
        with self.sessions.begin() as s:
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
                task.media_duration = event.media_duration
                task.flow_bytes = event.flow_bytes
            elif isinstance(event, Finished):
                if task.status in _FINAL:
                    return
                task.media_duration = event.stats.media_duration
                task.flow_bytes = event.stats.flow_bytes
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

    def _store_segment(self, record_id: str, seg: SegmentInfo) -> None:
        with self.sessions.begin() as s:
            task = s.scalar(select(Task).where(Task.record_id == record_id))
            if task is None:
                log.warning("segment %s of unknown task %s left in %s", seg.name, record_id, seg.path)
                return
            if s.scalar(select(File.id).where(File.task_id == task.id, File.index == seg.index)) is not None:
                return
            key = storage_key(task.app_id, record_id, seg.name)
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
                **stream_columns(seg),
            )
            s.add(row)
            task.file_size += seg.size
            s.flush()
            file_id = row.id
        self.uploader.submit(file_id, key, seg.path, seg.md5)

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
