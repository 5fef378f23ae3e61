"""Deleting the files (mode 2), the files and records (mode 1) or the records alone (mode 3, the files
stay in storage) of finished tasks, all or nothing."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cloudrec.context import AppContext
from cloudrec.db.models import File, Task
from cloudrec.errors import ParamError
from cloudrec.tasks.service import UNFINISHED

log = logging.getLogger(__name__)

DELETE_FILES_AND_RECORDS = 1
DELETE_FILES = 2
DELETE_RECORDS = 3  # the vendor's mode: the task records go, the stored files stay where they are


def delete_records(ctx: AppContext, session: Session, app_id: str, record_ids: list[str], mode: int) -> int:
    """Delete what `mode` says for each listed task of `app_id`; unknown ids are fine.

    A task still in status 1–5 makes the whole call fail (6050030003 naming it) before anything is
    deleted. Returns the number of tasks found."""
    wanted = list(dict.fromkeys(record_ids))
    if not wanted:
        return 0
    tasks = session.scalars(select(Task).where(Task.app_id == app_id, Task.record_id.in_(wanted))).all()
    busy = [t for t in tasks if t.status in UNFINISHED]
    if busy:
        names = ", ".join(f"{t.record_id} (status {t.status})" for t in busy)
        raise ParamError(f"record_list: task {names} is not finished yet; nothing was deleted")
    for task in tasks:
        if mode == DELETE_RECORDS:
            session.execute(delete(File).where(File.task_id == task.id))
            session.delete(task)
            log.info("task %s: record deleted, its files kept", task.record_id)
            continue
        for f in session.scalars(select(File).where(File.task_id == task.id)).all():
            ctx.storage.delete(f.storage_key)
            if f.poster_key:
                ctx.storage.delete(f.poster_key)
            if f.local_path:  # a copy still waiting for its upload
                Path(f.local_path).unlink(missing_ok=True)
        # Segments a failed recorder left in its work directory are files of the task too.
        shutil.rmtree(ctx.settings.work_dir / task.record_id, ignore_errors=True)
        session.execute(delete(File).where(File.task_id == task.id))
        if mode == DELETE_FILES_AND_RECORDS:
            session.delete(task)
        else:
            task.files_deleted = True
            task.file_size = 0
        log.info("task %s: files%s deleted", task.record_id, " and record" if mode == 1 else "")
    session.commit()
    return len(tasks)
