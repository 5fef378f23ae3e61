"""Readiness of a server (database, storage, recorder capacity) and the readings of its metric gauges."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from cloudrec.callbacks import outbox
from cloudrec.context import AppContext
from cloudrec.db.models import CallbackEvent, File, Task
from cloudrec.metrics import Readings
from cloudrec.recorder.spec import TaskStatus
from cloudrec.storage.local import LocalStorage

# What a failed check says is cut to this: enough to tell the cause, never a whole traceback.
MAX_ERROR_CHARS = 300


@dataclass(frozen=True)
class Check:
    """The outcome of one readiness check: ok, or the error; `details` are figures worth showing."""

    ok: bool
    error: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": self.ok, **self.details}
        if not self.ok:
            out["error"] = self.error
        return out


def _error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:MAX_ERROR_CHARS]


def _timed(check: Callable[[], Check]) -> Check:
    started = time.perf_counter()
    try:
        result = check()
    except Exception as exc:  # noqa: BLE001 - whatever failed makes the server not ready, and says why
        result = Check(False, _error(exc))
    ms = round((time.perf_counter() - started) * 1000, 1)
    return Check(result.ok, result.error, {**result.details, "ms": ms})


def check_database(ctx: AppContext) -> Check:
    """A query of the tasks table: the database answers and has the schema."""
    with ctx.sessions() as s:
        s.execute(select(Task.id).limit(1)).all()
    return Check(True)


def _probe_write(directory: Path) -> None:
    """Create, write and remove a file in `directory` (what recorders and local storage do)."""
    fd, name = tempfile.mkstemp(prefix=".readyz-", dir=directory)
    try:
        os.write(fd, b"ok")
        os.fsync(fd)
    finally:
        os.close(fd)
        os.unlink(name)


def check_storage(ctx: AppContext) -> Check:
    """The work directory (and local storage's files directory) takes files, free disk space is above
    the floor init requires, and an S3 store answers for its bucket."""
    settings = ctx.settings
    _probe_write(settings.work_dir)
    storage = ctx.storage
    if isinstance(storage, LocalStorage):
        _probe_write(storage.root)
    else:
        from cloudrec.storage.s3 import S3Storage

        if isinstance(storage, S3Storage):
            storage.client.head_bucket(Bucket=storage.bucket)
    free_mb = shutil.disk_usage(settings.data_dir).free // (1024 * 1024)
    details = {"free_disk_mb": free_mb}
    if free_mb < settings.min_free_disk_mb:
        return Check(False, f"free disk {free_mb} MiB is below {settings.min_free_disk_mb} MiB", details)
    return Check(True, details=details)


def check_recorder(ctx: AppContext) -> Check:
    """The recorder host can start another recording."""
    free = ctx.host.free_slots()
    details = {
        "running": len(ctx.host.running()),
        "free_slots": free,
        "capacity": ctx.settings.max_recordings,
    }
    if free <= 0:
        return Check(False, "no recorder capacity left: init would answer 6050030009", details)
    return Check(True, details=details)


def readiness(ctx: AppContext) -> dict[str, Check]:
    """Every check by name; the server is ready when all are ok."""
    return {
        "database": _timed(lambda: check_database(ctx)),
        "storage": _timed(lambda: check_storage(ctx)),
        "recorder": _timed(lambda: check_recorder(ctx)),
    }


# ---- gauges -----------------------------------------------------------------------------------


def tasks_by_status(ctx: AppContext) -> dict[int, int]:
    """Task count per status, every status present (0 when none)."""
    with ctx.sessions() as s:
        rows = s.execute(select(Task.status, func.count()).group_by(Task.status)).all()
    counts = {int(status): 0 for status in TaskStatus}
    counts.update({int(status): int(n) for status, n in rows})
    return counts


def webhook_events(ctx: AppContext) -> dict[str, int]:
    with ctx.sessions() as s:
        rows = dict(s.execute(select(CallbackEvent.state, func.count()).group_by(CallbackEvent.state)).all())
    return {"pending": int(rows.get(outbox.PENDING, 0)), "given_up": int(rows.get(outbox.GIVEN_UP, 0))}


def uploads_pending(ctx: AppContext) -> int:
    """Closed segments not stored yet, whoever stores them (the recorders do, wherever they run)."""
    with ctx.sessions() as s:
        return int(s.scalar(select(func.count(File.id)).where(File.stored.is_(False))) or 0)


def readings(ctx: AppContext) -> Readings:
    """How the metric gauges read this server's present state."""
    return Readings(
        active_recordings=lambda: len(ctx.host.running()),
        capacity=lambda: ctx.settings.max_recordings,
        free_slots=lambda: ctx.host.free_slots(),
        tasks_by_status=lambda: tasks_by_status(ctx),
        webhook_events=lambda: webhook_events(ctx),
        uploads_pending=lambda: uploads_pending(ctx),
    )
