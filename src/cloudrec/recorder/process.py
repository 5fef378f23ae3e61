"""Entry points that run inside a recorder OS process: record one task, or salvage a dead one's files."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from multiprocessing.connection import Connection

from cloudrec import logsafe
from cloudrec.egress import install_stream_policy
from cloudrec.recorder.control import Control
from cloudrec.recorder.spec import (
    Failed,
    Finish,
    Progress,
    SalvageJob,
    SegmentClosed,
    SegmentInfo,
    SegmentStored,
    TaskSpec,
)
from cloudrec.recorder.store import SegmentStore

log = logging.getLogger(__name__)

# After its recording ended, a recorder checks this often whether its last segments are stored.
STORE_POLL_S = 0.2


def _configure_logging(record_id: str) -> None:
    logsafe.install()  # values escaped, URLs without credentials or queries
    level = os.environ.get("CLOUDREC_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=level, format=f"%(asctime)s %(levelname)s [rec {record_id}] %(name)s: %(message)s", force=True
    )


def record(spec: TaskSpec, conn: Connection) -> None:
    """Record `spec`, reading commands from and sending progress to `conn` until the task ends."""
    _configure_logging(spec.record_id)
    install_stream_policy(spec.egress)  # what media.source checks before it opens a URL
    # The server handles Ctrl-C and tells us to finish; don't die half-way through a segment. Our own
    # session: signals to the server's process group (a terminal, a restart) do not reach us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if spec.orphan_wait_seconds > 0:
        with contextlib.suppress(OSError):
            os.setsid()
    from cloudrec.media.pipeline import run_recording  # the only place that pulls in `av`

    control = Control(spec, conn)
    store = (
        SegmentStore(spec.storage, spec.app_id, spec.record_id, control.send)
        if spec.storage is not None
        else None
    )

    def emit(event: Progress) -> None:
        control.send(event)  # closed first, stored later: the server knows it waits for the store
        if store is not None and isinstance(event, SegmentClosed):
            store.submit(event.segment)

    if store is not None:
        for seg in spec.pending:  # an earlier recorder's, closed but not stored when it died
            store.submit(seg)
    try:
        os.makedirs(spec.work_dir, exist_ok=True)
        run_recording(spec, control.recv, emit)
    except Exception as exc:
        log.exception("recording failed")
        control.send(Failed(f"recorder error: {type(exc).__name__}: {exc}"))
    finally:
        if store is not None:
            _store_the_rest(store, control)
        control.close()


def _store_the_rest(store: SegmentStore, control: Control) -> None:
    """The recording ended: wait until its last segments are stored (the task shows 5 meanwhile),
    unless the server says `Finish` (it shuts down: the next one stores the rest from the work
    directory) or no server adopted this orphan in time."""
    while not store.wait(STORE_POLL_S):
        if isinstance(control.recv(STORE_POLL_S), Finish):
            log.warning("%d segments not stored yet: left for the next server", store.pending())
            break
    store.close()


def standby(conn: Connection) -> None:
    """A recorder process started ahead of need: it waits for its task's spec, then records it (the
    host hands a new task to a waiting process, so no process start-up delays a recording)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        spec = conn.recv()
    except (EOFError, OSError):
        return  # the host went away, or let this process go unused
    if isinstance(spec, TaskSpec):
        record(spec, conn)


def salvage(job: SalvageJob, conn: Connection) -> None:
    """Store what a dead recorder left (`SalvageJob`) and send back the reports: `SegmentStored` for
    each object stored, `SegmentClosed` for a file found but not stored in time (it stays here)."""
    _configure_logging(job.record_id)
    from cloudrec.media.probe import salvage_segments

    reports: list[Progress] = []
    try:
        found: list[SegmentInfo] = (
            salvage_segments(job.work_dir, set(job.known), job.min_index) if job.probe else []
        )
        if job.storage is None:
            reports = [SegmentClosed(seg) for seg in found]
        else:
            stored: list[SegmentStored] = []
            store = SegmentStore(job.storage, job.app_id, job.record_id, stored.append)
            for seg in (*job.pending, *found):
                store.submit(seg)
            store.wait(job.store_wait_seconds)
            left = {seg.name for seg in store.unstored()}
            store.close()
            reports = [SegmentClosed(seg) for seg in found if seg.name in left]
            stored.sort(key=lambda e: e.segment.index)
            reports.extend(stored)
    except Exception:
        log.exception("salvage failed in %s", job.work_dir)
    finally:
        try:
            conn.send(reports)
        finally:
            conn.close()
