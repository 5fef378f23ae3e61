"""Segments that no live recorder will store (its process died or stopped first): a salvage on the
recorder side stores them, tried again with backoff until the store takes them."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cloudrec.context import AppContext
from cloudrec.db.models import File, Task
from cloudrec.recorder.progress import DbProgressSink
from cloudrec.recorder.spec import SalvageJob, SegmentInfo, poster_name
from cloudrec.storage.spec import storage_spec
from cloudrec.tasks.leases import LEASED

log = logging.getLogger(__name__)

# How long the restorer waits after a round that left files unstored: from this, doubling to the most.
FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 30.0
# With nothing left to store, a round finds files that a recorder left in the meantime within this.
IDLE_SCAN_S = 5.0


def pending_segments(session: Session, task_id: int) -> tuple[SegmentInfo, ...]:
    """The task's files reported closed but not stored, as their recorder described them."""
    rows = session.scalars(
        select(File).where(File.task_id == task_id, File.stored.is_(False)).order_by(File.index)
    ).all()
    return tuple(
        SegmentInfo(
            index=f.index,
            name=f.name,
            path=f.local_path,
            size=f.size,
            md5=f.md5,
            duration=f.duration,
            start_time=f.start_time,
            poster=str(Path(f.local_path).with_name(poster_name(f.name))) if f.poster_key else "",
            user_id=f.user_id,
            media_type=f.media_type,
            media_id=f.media_id,
            start_offset=f.start_offset,
        )
        for f in rows
    )


def salvage_job(ctx: AppContext, session: Session, task: Task, *, probe: bool) -> SalvageJob:
    """What a salvage of `task` stores: its pending files, and (`probe`) what its work directory
    holds that nobody reported."""
    known = tuple(session.scalars(select(File.name).where(File.task_id == task.id)))
    return SalvageJob(
        record_id=task.record_id,
        app_id=task.app_id,
        work_dir=str((ctx.settings.work_dir / task.record_id).resolve()),
        storage=storage_spec(ctx.settings),
        known=known,
        pending=pending_segments(session, task.id),
        probe=probe,
    )


class Restorer:
    """One thread per server: the unstored files of ended tasks whose recorder is gone (it ran here
    and exited, or its lease lapsed: a server stopped while the store was down, a recorder died)."""

    def __init__(self, ctx: AppContext, sink: DbProgressSink) -> None:
        self.ctx = ctx
        self.sink = sink
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="restorer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        backoff = FIRST_BACKOFF_S
        while not self._stop.is_set():
            try:
                left = self.round()
            except Exception:
                log.exception("storing the files of ended recorders failed")
                left = 1
            wait = backoff if left else IDLE_SCAN_S
            backoff = min(backoff * 2, MAX_BACKOFF_S) if left else FIRST_BACKOFF_S
            self._stop.wait(wait)

    def round(self) -> int:
        """One try at every such task's files; how many are still unstored."""
        running = self.ctx.host.running()
        with self.ctx.sessions() as s:
            tasks = s.scalars(
                select(Task)
                .where(
                    Task.id.in_(select(File.task_id).where(File.stored.is_(False))),
                    Task.status.not_in([int(st) for st in LEASED]),
                    # its recorder ran here (and is gone, see below), or its lease lapsed: no recorder
                    # elsewhere still stores them
                    or_(
                        Task.host_id == self.ctx.instance_id,
                        Task.lease_expires.is_(None),
                        Task.lease_expires < time.time(),
                    ),
                )
                .order_by(Task.id)
            ).all()
            jobs = [salvage_job(self.ctx, s, t, probe=False) for t in tasks if t.record_id not in running]
        left = 0
        for job in jobs:
            if self._stop.is_set():
                break
            log.info("task %s: storing %d files its recorder left", job.record_id, len(job.pending))
            reports = self.ctx.host.salvage(job)
            for report in reports:
                self.sink.handle(job.record_id, report, None)
            left += len(job.pending) - len(reports)
        self.sink.drain()
        return left
