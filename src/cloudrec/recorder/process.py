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
from cloudrec.recorder.spec import Failed, SegmentInfo, TaskSpec

log = logging.getLogger(__name__)


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
    try:
        os.makedirs(spec.work_dir, exist_ok=True)
        run_recording(spec, control.recv, control.send)
    except Exception as exc:
        log.exception("recording failed")
        control.send(Failed(f"recorder error: {type(exc).__name__}: {exc}"))
    finally:
        control.close()


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


def salvage(work_dir: str, known: list[str], conn: Connection, min_index: int = 1) -> None:
    """Probe the segment files a dead recorder left in `work_dir` that were never reported closed."""
    _configure_logging(os.path.basename(work_dir))
    from cloudrec.media.probe import salvage_segments

    try:
        found: list[SegmentInfo] = salvage_segments(work_dir, set(known), min_index)
        conn.send(found)
    except Exception:
        log.exception("salvage failed in %s", work_dir)
        conn.send([])
    finally:
        conn.close()
