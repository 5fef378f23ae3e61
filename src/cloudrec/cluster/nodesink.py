"""Progress of a recording on a recorder node, written by the node itself into the shared database,
fenced by the lease epoch; its segments are stored by the recorder side (`recorder.store`) first."""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass

from cloudrec.callbacks.events import CallbackEvents
from cloudrec.clock import SystemClock
from cloudrec.config import Settings
from cloudrec.db.session import make_engine, make_sessionmaker
from cloudrec.recorder.progress import DbProgressSink
from cloudrec.recorder.spec import Progress, SegmentStored
from cloudrec.recorder.store import storage_key
from cloudrec.storage.base import Storage

log = logging.getLogger(__name__)

# The lease is renewed this often (a part of its lifetime), apart from the reports: an upload that
# takes long does not let it expire while the recorder is well.
HEARTBEATS_PER_TTL = 4
HEARTBEAT_MIN_S = 0.25


@dataclass(frozen=True)
class NodeConfig:
    """What a recorder actor needs, besides its TaskSpec (whose `storage` says where segments go), to
    write its progress itself (handed to it by the API process)."""

    db_url: str
    lease_ttl_s: float
    download_url_ttl_s: int
    timezone: str
    log_level: str

    @classmethod
    def of(cls, settings: Settings) -> NodeConfig:
        return cls(
            db_url=settings.db_url,
            lease_ttl_s=settings.lease_ttl_s,
            download_url_ttl_s=settings.download_url_ttl_s,
            timezone=settings.timezone,
            log_level=settings.log_level,
        )


def segment_key(app_id: str, record_id: str, epoch: int, name: str) -> str:
    """A segment's object key: under its recorder's epoch, so that a fenced recorder that stored a file
    of the same name as its successor's cannot overwrite it (and its own is deleted)."""
    return storage_key(app_id, record_id, f"e{epoch}/{name}")


class NodeProgressSink(DbProgressSink):
    """The progress sink of one recording, inside its actor. Its recorder reports a segment only once
    stored (a node that dies leaves no row pointing at a file only it had); a report refused because
    the lease went to a successor has its object deleted, and a heartbeat renews the lease between
    reports, noticing a successor even while nothing is reported."""

    def __init__(self, config: NodeConfig, storage: Storage, record_id: str, epoch: int) -> None:
        clock = SystemClock()
        sessions = make_sessionmaker(make_engine(config.db_url))
        events = CallbackEvents(storage, clock, config.download_url_ttl_s, config.timezone)
        super().__init__(sessions, clock, events, lease_ttl_s=config.lease_ttl_s)
        self.storage = storage
        self.record_id = record_id
        self.epoch = epoch
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, name="lease-heartbeat", daemon=True)
        self._beat.start()

    def stop_heartbeat(self) -> None:
        self._stop.set()

    def _heartbeat(self) -> None:
        period = max(HEARTBEAT_MIN_S, self.lease_ttl_s / HEARTBEATS_PER_TTL)
        while not self._stop.wait(period):
            try:
                with self.sessions.begin() as s:
                    held = self._holds_lease(s, self.record_id, self.epoch)
                    gone = not held and self._exists(s, self.record_id)
            except Exception:  # the database is away for a moment: the next beat tries again
                log.warning("lease of %s not renewed (database unreachable)", self.record_id, exc_info=True)
                continue
            if gone and self.on_fenced is not None:
                self.on_fenced(self.record_id, self.epoch)
                return

    def _refuse(self, record_id: str, event: Progress, epoch: int | None) -> None:
        if isinstance(event, SegmentStored):  # stored in vain: only the successor's files count
            for key in (event.key, event.poster_key):
                if key:
                    with contextlib.suppress(Exception):
                        self.storage.delete(key)
        super()._refuse(record_id, event, epoch)
