"""Wires the server together: settings → database → storage → progress sink → recorder host → API."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import select

from cloudrec.clock import Clock, SystemClock
from cloudrec.config import Settings
from cloudrec.context import AppContext
from cloudrec.db.migrate import upgrade
from cloudrec.db.models import File, Task
from cloudrec.db.session import make_engine, make_sessionmaker
from cloudrec.recorder.local import LocalRecorderHost
from cloudrec.recorder.progress import DbProgressSink
from cloudrec.recorder.spec import Failed, SegmentClosed, TaskStatus
from cloudrec.storage.local import LocalStorage

log = logging.getLogger(__name__)


def build_context(settings: Settings, clock: Clock | None = None) -> AppContext:
    """Everything the API needs, built the way production runs it (migrations applied)."""
    settings.prepare()
    clock = clock or SystemClock()
    upgrade(settings.db_url)
    sessions = make_sessionmaker(make_engine(settings.db_url))
    storage = LocalStorage(
        settings.files_dir, settings.base_url, settings.signing_key.get_secret_value(), clock
    )
    sink = DbProgressSink(sessions, storage, clock)
    host = LocalRecorderHost(settings, sink)
    ctx = AppContext(settings=settings, sessions=sessions, host=host, storage=storage, clock=clock)
    recover_orphans(ctx, sink)
    return ctx


def recover_orphans(ctx: AppContext, sink: DbProgressSink) -> None:
    """Tasks left active by a previous run of the server: keep their files, end them with a reason."""
    active = (
        TaskStatus.INIT,
        TaskStatus.RECORDING,
        TaskStatus.QUEUED,
        TaskStatus.ENCODING,
        TaskStatus.UPLOADING,
    )
    with ctx.sessions() as s:
        rows = s.execute(
            select(Task.id, Task.record_id).where(Task.status.in_([int(a) for a in active]))
        ).all()
        known = {
            task_id: [name for (name,) in s.execute(select(File.name).where(File.task_id == task_id))]
            for task_id, _ in rows
        }
    if not rows:
        return
    host = ctx.host
    assert isinstance(host, LocalRecorderHost)
    for task_id, record_id in rows:
        work_dir = str((ctx.settings.work_dir / record_id).resolve())
        for seg in host.salvage(work_dir, known[task_id]):
            sink.handle(record_id, SegmentClosed(seg))
        sink.handle(
            record_id, Failed("the server stopped while this task was active; files recorded are kept")
        )
        log.warning("task %s was active when the server stopped: ended with its files kept", record_id)
    sink.drain()


def build_app(settings: Settings, clock: Clock | None = None) -> FastAPI:
    from cloudrec.api.app import create_app

    ctx = build_context(settings, clock)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        shutdown(ctx)

    app = create_app(ctx)
    app.router.lifespan_context = lifespan
    return app


def shutdown(ctx: AppContext) -> None:
    """Finish running recordings so that their files are complete, then stop the background threads."""
    ctx.host.close()
    sink = getattr(ctx.host, "sink", None)
    if isinstance(sink, DbProgressSink):
        sink.drain()
        sink.close()
