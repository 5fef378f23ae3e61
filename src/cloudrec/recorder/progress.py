"""Stores what recorders report: status, stats, segment files (moved to storage at once), failures."""

from __future__ import annotations

import logging
import queue
import threading
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloudrec.clock import Clock
from cloudrec.db.models import File, Task
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

log = logging.getLogger(__name__)

_FINAL = (TaskStatus.DONE, TaskStatus.ERROR)


def storage_key(app_id: str, record_id: str, name: str) -> str:
    return f"{app_id}/{record_id}/{name}"


class DbProgressSink:
    """Applies progress events in order, one at a time, on its own thread (one DB writer)."""

    def __init__(self, sessions: sessionmaker[Session], storage: Storage, clock: Clock) -> None:
        self.sessions = sessions
        self.storage = storage
        self.clock = clock
        self._queue: queue.Queue[tuple[str, Progress] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="progress-sink", daemon=True)
        self._thread.start()

    def handle(self, record_id: str, event: Progress) -> None:
        self._queue.put((record_id, event))

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
                record_id, event = item
                try:
                    self._apply(record_id, event)
                except Exception:
                    log.exception("could not apply %s of %s", type(event).__name__, record_id)
            finally:
                self._queue.task_done()

    def _apply(self, record_id: str, event: Progress) -> None:
        if isinstance(event, SegmentClosed):
            self._store_segment(record_id, event.segment)
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
                # Every segment is closed and stored by now (events are applied in order):
                # encoding (4) and uploading (5) are already behind us.
                task.status = TaskStatus.DONE
                task.done_time = now
                log.info("task %s done%s", record_id, " (timed out)" if event.timed_out else "")
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

    def _store_segment(self, record_id: str, seg: SegmentInfo) -> None:
        with self.sessions.begin() as s:
            task = s.scalar(select(Task).where(Task.record_id == record_id))
            if task is None:
                log.warning("segment %s of unknown task %s left in %s", seg.name, record_id, seg.path)
                return
            app_id, task_id = task.app_id, task.id
            exists = s.scalar(select(File.id).where(File.task_id == task_id, File.index == seg.index))
            if exists is not None:
                return
        key = storage_key(app_id, record_id, seg.name)
        self.storage.put(key, Path(seg.path), seg.md5)
        with self.sessions.begin() as s:
            task = s.get(Task, task_id)
            if task is None:
                return
            s.add(
                File(
                    task_id=task_id,
                    index=seg.index,
                    name=seg.name,
                    storage_key=key,
                    size=seg.size,
                    md5=seg.md5,
                    duration=seg.duration,
                    start_time=seg.start_time,
                    stored=True,
                )
            )
            task.file_size += seg.size
