"""Webhook events of a task, written into the outbox by the progress sink (inside its transaction)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloudrec.api.times import zone
from cloudrec.callbacks import outbox
from cloudrec.clock import Clock
from cloudrec.db.models import App, File, Task
from cloudrec.storage.base import Storage
from cloudrec.tasks.listing import describe_file, link_files, stream_extent

log = logging.getLogger(__name__)

RECORDING_STARTED = "recording.started"
RECORDING_FINISHED = "recording.finished"
SEGMENT_STORED = "segment.stored"
TASK_DONE = "task.done"
TASK_FAILED = "task.failed"


class CallbackEvents:
    """Builds the events of a task and adds them to the outbox of the caller's session (if the app has
    a callback URL at that moment); `wake` tells the delivery worker that there may be something new."""

    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        download_url_ttl_s: int,
        timezone: str,
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self.storage = storage
        self.clock = clock
        self.download_url_ttl_s = download_url_ttl_s
        self.timezone = timezone
        self.wake = wake

    def emit(self, session: Session, task: Task, type_: str, data: dict[str, Any]) -> bool:
        """Add one event of `task` to the outbox; False when its app has no callback URL."""
        url = session.scalar(select(App.callback_url).where(App.app_id == task.app_id))
        if not url:
            return False
        event = {
            "id": outbox.new_event_id(),
            "type": type_,
            "timestamp": int(self.clock.time()),
            "app_id": task.app_id,
            "record_id": task.record_id,
            "group_id": task.group_id,
            "data": data,
        }
        outbox.add(session, task.app_id, task.record_id, event)
        log.debug("event %s %s of %s queued", event["id"], type_, task.record_id)
        return True

    def started(self, session: Session, task: Task) -> None:
        self.emit(session, task, RECORDING_STARTED, {"status": task.status})

    def finished(self, session: Session, task: Task, timed_out: bool) -> None:
        """The finish figures, as finish answers them (seconds, seconds, kilobytes)."""
        data = {
            "status": task.status,
            "media_duration": round(task.media_duration),
            "record_duration": round(task.record_duration),
            "flow": task.flow_bytes // 1024,
            "timed_out": timed_out,
        }
        self.emit(session, task, RECORDING_FINISHED, data)

    def segment_stored(self, session: Session, task: Task, row: File) -> None:
        data = {
            "index": row.index,
            "file_name": row.name,
            "size": row.size,
            "md5": row.md5,
            "duration": round(row.duration, 3),
        }
        if row.user_id is not None:
            data.update(stream_extent(row))
        self.emit(session, task, SEGMENT_STORED, data)

    def done(self, session: Session, task: Task) -> None:
        """Status 6 with every file, as `/v1/record/file/download/url` lists them (url, md5, ...)."""
        rows = session.scalars(
            select(File).where(File.task_id == task.id, File.stored.is_(True)).order_by(File.index)
        ).all()
        tz = zone(self.timezone)
        links = link_files(self.storage, self.download_url_ttl_s, rows, task.gaps)
        files = [describe_file(link, tz) for link in links]
        self.emit(
            session, task, TASK_DONE, {"status": task.status, "total_num": len(files), "file_list": files}
        )

    def failed(self, session: Session, task: Task, reason: str) -> None:
        self.emit(session, task, TASK_FAILED, {"status": task.status, "reason": reason})
