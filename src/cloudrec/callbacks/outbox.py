"""The outbox table: events added in the state change's transaction, read and updated by delivery."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from cloudrec.db.models import CallbackEvent

PENDING = 0
GIVEN_UP = 2


def add(session: Session, app_id: str, record_id: str, event: dict[str, Any]) -> CallbackEvent:
    """Queue `event` (a JSON object with its `id` and `type`) for delivery, due at once."""
    row = CallbackEvent(
        event_id=str(event["id"]),
        app_id=app_id,
        record_id=record_id,
        type=str(event["type"]),
        body=json.dumps(event, separators=(",", ":"), ensure_ascii=False),
        state=PENDING,
        attempts=0,
        created_at=time.time(),
        next_attempt_at=0.0,
        last_error="",
    )
    session.add(row)
    return row


def new_event_id() -> str:
    return "evt_" + uuid.uuid4().hex


def pending(session: Session, limit: int) -> Sequence[CallbackEvent]:
    """The oldest pending events, in the order they were written."""
    return session.scalars(
        select(CallbackEvent).where(CallbackEvent.state == PENDING).order_by(CallbackEvent.id).limit(limit)
    ).all()


def next_due(session: Session) -> float | None:
    """When the earliest pending event is due (wall clock), if any."""
    return session.scalar(
        select(func.min(CallbackEvent.next_attempt_at)).where(CallbackEvent.state == PENDING)
    )


def delivered(session: Session, row_id: int) -> None:
    session.execute(delete(CallbackEvent).where(CallbackEvent.id == row_id))


def failed(session: Session, row_id: int, attempts: int, next_at: float, error: str) -> None:
    session.execute(
        update(CallbackEvent)
        .where(CallbackEvent.id == row_id)
        .values(attempts=attempts, next_attempt_at=next_at, last_error=error[:500])
    )


def given_up(session: Session, row_id: int, attempts: int, error: str) -> None:
    session.execute(
        update(CallbackEvent)
        .where(CallbackEvent.id == row_id)
        .values(state=GIVEN_UP, attempts=attempts, last_error=error[:500])
    )
