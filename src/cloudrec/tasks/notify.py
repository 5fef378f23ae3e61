"""PostgreSQL LISTEN/NOTIFY between API servers: a change of a task's desired state that one server
stored wakes the server running its recorder at once; the relay's polling stays the fallback (a lost
notification, a listener reconnecting). SQLite has one server: nothing to tell."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg
from sqlalchemy import text
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

CHANNEL = "cloudrec_desired"
# A listener checks this often whether it should stop, and waits this long before it reconnects.
POLL_S = 1.0
RECONNECT_S = 2.0


def is_postgresql(url: str) -> bool:
    return url.startswith(("postgresql", "postgres"))


def notify_desired(session: Session, record_id: str) -> None:
    """Tell every listening server that the desired state of `record_id` changed (it is committed)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    try:
        session.execute(text("SELECT pg_notify(:c, :r)"), {"c": CHANNEL, "r": record_id})
        session.commit()
    except Exception:
        session.rollback()
        log.warning("could not notify the change of %s: the scan relays it", record_id, exc_info=True)


def _dsn(url: str) -> str:
    """The libpq form of an SQLAlchemy URL (`postgresql+psycopg://` -> `postgresql://`)."""
    scheme, rest = url.split("://", 1)
    return f"{scheme.split('+', 1)[0]}://{rest}"


class DesiredListener:
    """One thread and one connection per server: `on_change(record_id)` for each notification."""

    def __init__(self, url: str, on_change: Callable[[str], None]) -> None:
        self.url = url
        self.on_change = on_change
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="desired-listener", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=POLL_S + 5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(_dsn(self.url), autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=POLL_S):
                            self.on_change(note.payload)
            except Exception:
                log.warning("listening for changes failed: again in %g s", RECONNECT_S, exc_info=True)
                self._stop.wait(RECONNECT_S)
