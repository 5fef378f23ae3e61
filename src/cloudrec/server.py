"""Wires the server together: settings → database → storage → progress sink → recorder host → API."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloudrec import logsafe
from cloudrec.callbacks.delivery import CallbackDelivery, RetryPolicy
from cloudrec.callbacks.events import CallbackEvents
from cloudrec.clock import Clock, SystemClock
from cloudrec.config import Settings
from cloudrec.context import AppContext
from cloudrec.db.migrate import upgrade
from cloudrec.db.models import File, Task
from cloudrec.db.session import make_engine, make_sessionmaker, request_slots
from cloudrec.egress import webhook_policy
from cloudrec.recorder.local import LocalRecorderHost
from cloudrec.recorder.progress import DbProgressSink
from cloudrec.recorder.spec import Failed, Finished, SegmentClosed, Stats, TaskStatus
from cloudrec.schemes import usable_schemes
from cloudrec.storage.base import Storage
from cloudrec.storage.local import LocalStorage

log = logging.getLogger(__name__)


def build_context(settings: Settings, clock: Clock | None = None) -> AppContext:
    """Everything the API needs, built the way production runs it (migrations applied)."""
    settings.prepare()
    settings.allowed_url_schemes = usable_schemes(settings.allowed_url_schemes)  # srt only with libsrt
    clock = clock or SystemClock()
    upgrade(settings.db_url, secret_box=settings.secret_box)
    sessions = make_sessionmaker(make_engine(settings.db_url))
    storage = make_storage(settings, clock)
    delivery = make_delivery(settings, sessions)
    events = CallbackEvents(
        storage, clock, settings.download_url_ttl_s, settings.timezone, wake=delivery.wake
    )
    sink = DbProgressSink(sessions, storage, clock, events)
    host = LocalRecorderHost(settings, sink)
    ctx = AppContext(
        settings=settings,
        sessions=sessions,
        host=host,
        storage=storage,
        clock=clock,
        callbacks=delivery,
        request_slots=request_slots(settings.db_url),
    )
    delivery.start()  # pending events of an earlier run go out first
    recover_orphans(ctx, sink)
    pending = sink.resume_uploads()
    if pending:
        log.info("%d files of earlier recordings wait for upload: uploading", pending)
    return ctx


def make_delivery(settings: Settings, sessions: sessionmaker[Session]) -> CallbackDelivery:
    policy = RetryPolicy(
        first_s=settings.callback_retry_first_s,
        max_s=settings.callback_retry_max_s,
        give_up_s=settings.callback_retry_s,
    )
    return CallbackDelivery(
        sessions,
        policy,
        settings.secret_box,
        timeout_s=settings.callback_timeout_s,
        poll_s=settings.callback_poll_s,
        egress=webhook_policy(settings),
    )


def make_storage(settings: Settings, clock: Clock) -> Storage:
    if settings.storage == "s3":
        from cloudrec.storage.s3 import S3Storage

        return S3Storage(
            bucket=settings.s3_bucket,
            prefix=settings.s3_prefix,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key.get_secret_value(),
            path_style=settings.s3_path_style,
        )
    return LocalStorage(settings.files_dir, settings.base_url, settings.signing_key.get_secret_value(), clock)


def recover_orphans(ctx: AppContext, sink: DbProgressSink) -> None:
    """Tasks left recording by a previous run of the server: keep their files, end them.

    Recording (1, 2): the recording was cut short, the task fails with that reason. Finishing (3, 4):
    the finish was asked for, the task finishes with what was recorded. Uploading (5) just resumes."""
    active = [
        int(TaskStatus.INIT),
        int(TaskStatus.RECORDING),
        int(TaskStatus.QUEUED),
        int(TaskStatus.ENCODING),
    ]
    with ctx.sessions() as s:
        rows = s.execute(
            select(Task.id, Task.record_id, Task.status, Task.media_duration, Task.flow_bytes).where(
                Task.status.in_(active)
            )
        ).all()
        known = {
            row.id: [name for (name,) in s.execute(select(File.name).where(File.task_id == row.id))]
            for row in rows
        }
    if not rows:
        return
    host = ctx.host
    assert isinstance(host, LocalRecorderHost)
    for row in rows:
        work_dir = str((ctx.settings.work_dir / row.record_id).resolve())
        for seg in host.salvage(work_dir, known[row.id]):
            sink.handle(row.record_id, SegmentClosed(seg))
        if row.status in (TaskStatus.QUEUED, TaskStatus.ENCODING):
            sink.handle(row.record_id, Finished(Stats(row.media_duration, row.flow_bytes)))
        else:
            sink.handle(
                row.record_id, Failed("the server stopped while this task was recording; files are kept")
            )
        log.warning("task %s was active when the server stopped: ended with its files kept", row.record_id)
    sink.drain()


def build_app(settings: Settings, clock: Clock | None = None) -> FastAPI:
    from cloudrec.api.app import create_app

    logsafe.install()  # every logger of the process, uvicorn's and httpx's included: escaped, redacted
    ctx = build_context(settings, clock)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        shutdown(ctx)

    app = create_app(ctx)
    app.router.lifespan_context = lifespan
    return app


def shutdown(ctx: AppContext) -> None:
    """Finish running recordings so that their files are complete, then stop the background threads
    (the callback worker last: the sink's last changes may add events)."""
    ctx.host.close()
    sink = getattr(ctx.host, "sink", None)
    if isinstance(sink, DbProgressSink):
        sink.drain(uploads_timeout_s=ctx.settings.shutdown_upload_wait_s)
        sink.close()
    if ctx.callbacks is not None:
        ctx.callbacks.close()  # undelivered events stay in the outbox for the next start
