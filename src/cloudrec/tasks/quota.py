"""Fair share: limits on the concurrent recordings of one developer and of one app (init → 6050030009)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloudrec.config import Settings
from cloudrec.db.models import App, Developer, Task
from cloudrec.errors import CapacityError
from cloudrec.recorder.spec import TaskStatus
from cloudrec.tasks.locks import process_locks

# A task holds a recorder from init until its recorder has closed its files (status 4 → 5).
HOLDS_A_RECORDER = (TaskStatus.INIT, TaskStatus.RECORDING, TaskStatus.QUEUED, TaskStatus.ENCODING)


@contextmanager
def fair_share(session: Session, settings: Settings, app_id: str) -> Iterator[None]:
    """Refuse (CapacityError) a new task of `app_id` when its developer or the app already holds its
    share of recorders; the caller stores the task inside the block.

    Parallel inits of one developer are serialised: in this process by a lock held for the whole block,
    across processes (PostgreSQL) by the developer's row lock, held until the caller's commit."""
    per_dev, per_app = settings.max_recordings_per_developer, settings.max_recordings_per_app
    if not per_dev and not per_app:
        yield
        return
    dev_id = session.scalar(select(App.dev_id).where(App.app_id == app_id))
    with process_locks.hold(("fair-share", dev_id)):
        session.execute(select(Developer.dev_id).where(Developer.dev_id == dev_id).with_for_update())
        busy = [int(s) for s in HOLDS_A_RECORDER]
        if per_dev:
            count = session.scalar(
                select(func.count(Task.id))
                .join(App, App.app_id == Task.app_id)
                .where(App.dev_id == dev_id, Task.status.in_(busy))
            )
            if (count or 0) >= per_dev:
                raise CapacityError(
                    f"developer limit reached: {count} of {per_dev} concurrent recordings of this "
                    "developer are in use (max_recordings_per_developer)"
                )
        if per_app:
            count = session.scalar(
                select(func.count(Task.id)).where(Task.app_id == app_id, Task.status.in_(busy))
            )
            if (count or 0) >= per_app:
                raise CapacityError(
                    f"app limit reached: {count} of {per_app} concurrent recordings of app {app_id!r} "
                    "are in use (max_recordings_per_app)"
                )
        yield
