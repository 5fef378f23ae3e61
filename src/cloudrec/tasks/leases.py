"""Leases of running tasks: who owns a task's recorder (owner, epoch, expiry), granted and taken over."""

from __future__ import annotations

import os
import secrets
import socket
import time
from typing import Any, cast

from sqlalchemy import CursorResult, update
from sqlalchemy.orm import Session

from cloudrec.config import Settings
from cloudrec.db.models import Task
from cloudrec.recorder.spec import TaskStatus

# A new recorder's first report (about a second after its process starts, longer when no standby
# process waits) must not find its lease expired already.
START_GRACE_S = 5.0
# Statuses in which a recorder runs the task (3 and 4: it is closing its last segment).
LEASED = (TaskStatus.INIT, TaskStatus.RECORDING, TaskStatus.QUEUED, TaskStatus.ENCODING)


def new_instance_id() -> str:
    """This server process, as lease owner: host name, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def first_lease(settings: Settings, owner: str) -> dict[str, Any]:
    """The lease columns of a task whose first recorder (epoch 1) is about to start."""
    return {
        "host_id": owner,
        "lease_epoch": 1,
        "lease_expires": time.time() + settings.lease_ttl_s + START_GRACE_S,
    }


def is_live(task: Task) -> bool:
    """Whether a recorder holds the task's lease now (a task never leased has no live lease)."""
    return task.lease_expires is not None and task.lease_expires > time.time()


def claim(session: Session, record_id: str, epoch: int, owner: str, ttl_s: float, *, expired: bool) -> bool:
    """Move the lease of `epoch` to `owner` as epoch + 1 (only one claimant wins); `expired`: only if
    the lease expired (a takeover found by the scan, not a death seen by the host)."""
    now = time.time()
    conds = [
        Task.record_id == record_id,
        Task.lease_epoch == epoch,
        Task.status.in_([int(s) for s in LEASED]),
    ]
    if expired:
        conds.append(Task.lease_expires < now)
    result = session.execute(
        update(Task)
        .where(*conds)
        .values(lease_epoch=epoch + 1, host_id=owner, lease_expires=now + ttl_s + START_GRACE_S),
        execution_options={"synchronize_session": False},
    )
    session.commit()
    return int(cast(CursorResult[Any], result).rowcount) > 0
