"""Progress of a recording on a recorder node, written by the node itself: the shared database (fenced
by the lease epoch) and the shared S3 store (each segment stored before its row is written)."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from cloudrec.callbacks.events import CallbackEvents
from cloudrec.clock import SystemClock
from cloudrec.config import Settings
from cloudrec.db.models import File, Task
from cloudrec.db.session import make_engine, make_sessionmaker
from cloudrec.recorder.build import stream_columns
from cloudrec.recorder.progress import DbProgressSink, storage_key
from cloudrec.recorder.spec import SegmentClosed, SegmentInfo, poster_name
from cloudrec.storage.s3 import S3Storage

log = logging.getLogger(__name__)

# A failed upload is tried again after this long, doubled up to the maximum, while the lease holds: the
# node's copy is the only one until the store confirms it.
UPLOAD_RETRY_FIRST_S = 0.5
UPLOAD_RETRY_MAX_S = 5.0
# The lease is renewed this often (a part of its lifetime), apart from the reports: an upload that
# takes long does not let it expire while the recorder is well.
HEARTBEATS_PER_TTL = 4
HEARTBEAT_MIN_S = 0.25


@dataclass(frozen=True)
class NodeConfig:
    """What a recorder actor needs to write its progress itself (handed to it by the API process)."""

    db_url: str
    s3_bucket: str
    s3_prefix: str
    s3_endpoint_url: str
    s3_region: str
    s3_access_key_id: str
    s3_secret_access_key: str
    s3_path_style: bool
    lease_ttl_s: float
    download_url_ttl_s: int
    timezone: str
    log_level: str

    @classmethod
    def of(cls, settings: Settings) -> NodeConfig:
        return cls(
            db_url=settings.db_url,
            s3_bucket=settings.s3_bucket,
            s3_prefix=settings.s3_prefix,
            s3_endpoint_url=settings.s3_endpoint_url,
            s3_region=settings.s3_region,
            s3_access_key_id=settings.s3_access_key_id,
            s3_secret_access_key=settings.s3_secret_access_key.get_secret_value(),
            s3_path_style=settings.s3_path_style,
            lease_ttl_s=settings.lease_ttl_s,
            download_url_ttl_s=settings.download_url_ttl_s,
            timezone=settings.timezone,
            log_level=settings.log_level,
        )

    def storage(self) -> S3Storage:
        return S3Storage(
            bucket=self.s3_bucket,
            prefix=self.s3_prefix,
            endpoint_url=self.s3_endpoint_url,
            region=self.s3_region,
            access_key_id=self.s3_access_key_id,
            secret_access_key=self.s3_secret_access_key,
            path_style=self.s3_path_style,
        )


def segment_key(app_id: str, record_id: str, epoch: int, name: str) -> str:
    """A segment's object key: under its recorder's epoch, so that a fenced recorder that stored a file
    of the same name as its successor's cannot overwrite it (and may delete its own)."""
    return storage_key(app_id, record_id, f"e{epoch}/{name}")


class NodeProgressSink(DbProgressSink):
    """The progress sink of one recording, inside its actor. Unlike the API's sink, a closed segment is
    uploaded first (on the sink's thread, in order) and its row written afterwards as stored, under the
    lease: a node that dies leaves no row pointing at a file only it had, and a recorder whose lease
    went to a successor adds nothing (it deletes what it uploaded in vain)."""

    def __init__(self, config: NodeConfig, record_id: str, app_id: str, epoch: int) -> None:
        storage = config.storage()
        clock = SystemClock()
        sessions = make_sessionmaker(make_engine(config.db_url))
        events = CallbackEvents(storage, clock, config.download_url_ttl_s, config.timezone)
        super().__init__(sessions, storage, clock, events, lease_ttl_s=config.lease_ttl_s)
        self.s3 = storage
        self.record_id = record_id
        self.app_id = app_id
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

    def _lease_current(self) -> bool:
        with self.sessions() as s:
            epoch = s.scalar(select(Task.lease_epoch).where(Task.record_id == self.record_id))
        return epoch is None or epoch == self.epoch

    def _upload(self, key: str, path: str, md5: str) -> bool:
        """Store `path` under `key`, trying again while this recorder holds the lease; False if it lost it."""
        backoff = UPLOAD_RETRY_FIRST_S
        while True:
            try:
                self.s3.put(key, Path(path), md5)
                return True
            except Exception as exc:  # noqa: BLE001 - any failure: keep the local copy, try again
                log.warning("upload of %s failed (%s): again in %.1f s", key, exc, backoff)
            time.sleep(backoff)
            backoff = min(backoff * 2, UPLOAD_RETRY_MAX_S)
            if not self._lease_current():
                return False

    def _forget(self, *keys: str) -> None:
        for key in keys:
            if key:
                with contextlib.suppress(Exception):
                    self.s3.delete(key)

    def _store_segment(self, record_id: str, seg: SegmentInfo, epoch: int | None) -> None:
        assert epoch is not None, "a recorder's segment always carries its epoch"
        if not self._lease_current():
            self._refuse(record_id, SegmentClosed(seg), epoch)
            return
        key = segment_key(self.app_id, record_id, epoch, seg.name)
        poster_key = segment_key(self.app_id, record_id, epoch, poster_name(seg.name)) if seg.poster else ""
        if (
            poster_key
            and Path(seg.poster).exists()
            and not self._upload(poster_key, seg.poster, seg.poster_md5)
        ):
            self._refuse(record_id, SegmentClosed(seg), epoch)
            return
        if not self._upload(key, seg.path, seg.md5):
            self._forget(poster_key)
            self._refuse(record_id, SegmentClosed(seg), epoch)
            return
        kept = False
        with self.sessions.begin() as s:
            if not self._holds_lease(s, record_id, epoch) and self._exists(s, record_id):
                pass  # refused below, after the transaction
            elif (task := s.scalar(select(Task).where(Task.record_id == record_id))) is None:
                log.warning("segment %s of unknown task %s dropped", seg.name, record_id)
            elif s.scalar(select(File.id).where(File.task_id == task.id, File.index == seg.index)) is None:
                row = File(
                    task_id=task.id,
                    index=seg.index,
                    name=seg.name,
                    storage_key=key,
                    size=seg.size,
                    md5=seg.md5,
                    duration=seg.duration,
                    start_time=seg.start_time,
                    stored=True,
                    local_path="",
                    poster_key=poster_key,
                    **stream_columns(seg),
                )
                s.add(row)
                task.file_size += seg.size
                s.flush()
                if self.events is not None:
                    self.events.segment_stored(s, task, row)
                kept = True
        if not kept:
            self._forget(key, poster_key)
            if not self._lease_current():
                self._refuse(record_id, SegmentClosed(seg), epoch)
