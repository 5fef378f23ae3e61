"""Wires the server together: settings → database → storage → progress sink → recorder host →
succession (leases) → API."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from cloudrec import logsafe
from cloudrec.callbacks.delivery import CallbackDelivery, RetryPolicy
from cloudrec.callbacks.events import CallbackEvents
from cloudrec.clock import Clock, SystemClock
from cloudrec.cluster.settings import ClusterSettingsError, cluster_settings_problems  # no `ray` import
from cloudrec.config import Settings
from cloudrec.context import AppContext
from cloudrec.db.migrate import upgrade
from cloudrec.db.session import make_engine, make_sessionmaker, request_slots
from cloudrec.egress import webhook_policy
from cloudrec.recorder.host import RecorderHost
from cloudrec.recorder.local import LocalRecorderHost
from cloudrec.recorder.progress import DbProgressSink
from cloudrec.schemes import usable_schemes
from cloudrec.storage.base import Storage
from cloudrec.storage.spec import open_storage, storage_spec
from cloudrec.tasks.leases import new_instance_id
from cloudrec.tasks.restore import Restorer
from cloudrec.tasks.succession import Succession

log = logging.getLogger(__name__)


def build_context(settings: Settings, clock: Clock | None = None) -> AppContext:
    """Everything the API needs, built the way production runs it (migrations applied)."""
    settings.prepare()
    check_cluster_settings(settings)
    settings.allowed_url_schemes = usable_schemes(settings.allowed_url_schemes)  # srt only with libsrt
    clock = clock or SystemClock()
    upgrade(settings.db_url, secret_box=settings.secret_box)
    sessions = make_sessionmaker(make_engine(settings.db_url))
    storage = make_storage(settings, clock)
    delivery = make_delivery(settings, sessions)
    events = CallbackEvents(
        storage, clock, settings.download_url_ttl_s, settings.timezone, wake=delivery.wake
    )
    sink = DbProgressSink(sessions, clock, events, lease_ttl_s=settings.lease_ttl_s)
    host = make_host(settings, sink, sessions)
    ctx = AppContext(
        settings=settings,
        sessions=sessions,
        host=host,
        storage=storage,
        clock=clock,
        callbacks=delivery,
        request_slots=request_slots(settings.db_url),
        sink=sink,
        instance_id=new_instance_id(),
    )
    delivery.start()  # pending events of an earlier run go out first
    # Tasks of other runs or servers are taken over only once their lease expires (never at start-up:
    # another server on the same database may be running them).
    succession = Succession(ctx, sink)
    sink.on_lost = succession.lost
    sink.on_fenced = host.abandon
    ctx.succession = succession
    succession.start()
    # Files that earlier recorders left unstored (the store was down, the server stopped): stored by a
    # salvage on the recorder side, tried again until the store takes them.
    ctx.restorer = Restorer(ctx, sink)
    ctx.restorer.start()
    return ctx


def check_cluster_settings(settings: Settings) -> None:
    """Cluster mode needs state every process shares: refuse to start without it, saying what is wrong."""
    if settings.recorder_host != "ray":
        return
    problems = cluster_settings_problems(settings)
    if problems:
        raise ClusterSettingsError(
            "cluster mode (CLOUDREC_RECORDER_HOST=ray) cannot start: " + "; ".join(problems)
        )


def make_host(settings: Settings, sink: DbProgressSink, sessions: sessionmaker[Session]) -> RecorderHost:
    """The recorder host of the settings: this machine's processes, or a Ray cluster's actors."""
    if settings.recorder_host != "ray":
        return LocalRecorderHost(settings, sink)
    try:
        from cloudrec.cluster.host import RayRecorderHost
    except ImportError as exc:
        raise ClusterSettingsError(
            f"cluster mode needs Ray: pip install 'cloudrec[cluster]' ({type(exc).__name__}: {exc})"
        ) from exc
    return RayRecorderHost(settings, sink, sessions)


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
    return open_storage(
        storage_spec(settings),
        base_url=settings.base_url,
        signing_secret=settings.signing_key.get_secret_value(),
        clock=clock,
    )


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
    if ctx.succession is not None:
        ctx.succession.close()  # no successor starts while the recorders finish
    if ctx.settings.shutdown_detach:
        ctx.host.detach()  # the next server adopts the recordings
    else:
        ctx.host.close()
    if ctx.restorer is not None:
        ctx.restorer.close()
    if ctx.sink is not None:
        ctx.sink.drain()
        ctx.sink.close()
    if ctx.callbacks is not None:
        ctx.callbacks.close()  # undelivered events stay in the outbox for the next start
    engine = ctx.sessions.kw.get("bind")
    if engine is not None:
        engine.dispose()  # the pool's connections closed now, not when the process ends
