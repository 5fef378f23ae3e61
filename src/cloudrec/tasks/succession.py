"""Successors for recorders that died or lost their lease: the task goes on with its next segment."""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import replace
from typing import Any

from sqlalchemy import select, update

from cloudrec.context import AppContext
from cloudrec.db.models import File, Task
from cloudrec.groups.registry import GroupRegistry
from cloudrec.recorder.build import build_spec, desired_commands
from cloudrec.recorder.progress import DbProgressSink
from cloudrec.recorder.spec import DEATH_STORE_WAIT_S, Failed, Finished, RecordMode, Stats, TaskStatus
from cloudrec.tasks.leases import LEASED, START_GRACE_S, claim
from cloudrec.tasks.notify import DesiredListener, is_postgresql
from cloudrec.tasks.restore import pending_segments, salvage_job

log = logging.getLogger(__name__)

# A gap is reported with this precision (seconds).
GAP_DECIMALS = 3
# A lease not renewed for this long (two reports missed) may belong to a recorder whose server died:
# it is asked whether it waits to be adopted (only such recorders listen, asking others is harmless).
ADOPT_AFTER_S = 2.0
_RELAY = "\0relay"  # a queue item's reason: relay the desired state now (not a death)


class Succession:
    """One thread per server. A recorder that died here (`Lost`, after the host salvaged its open
    segment) or any server's recorder whose lease expired is replaced, within the restart budget: the
    lease moves to a new epoch (the old recorder's reports count no more), a successor starts from
    the stored desired state with the next segment index, and what was not recorded between the old
    recorder's last media and the successor's start is stored as a gap. A task whose finish was asked
    finishes with what was recorded; a task out of budget fails, its files kept."""

    def __init__(self, ctx: AppContext, sink: DbProgressSink) -> None:
        self.ctx = ctx
        self.sink = sink
        self._queue: queue.Queue[tuple[str, int | None, str] | None] = queue.Queue()
        self._seen: dict[str, int] = {}  # record_id -> the desired_seq its recorder here has
        self._seen_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="succession", daemon=True)
        # PostgreSQL: another server's change of a task running here wakes the relay at once
        url = ctx.settings.db_url
        self._listener = DesiredListener(url, self.changed) if is_postgresql(url) else None

    def start(self) -> None:
        self._thread.start()
        if self._listener is not None:
            self._listener.start()

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
        self._queue.put(None)
        self._thread.join(timeout=30)

    def changed(self, record_id: str) -> None:
        """Another server stored a change of `record_id`'s desired state: relay it if it runs here."""
        if record_id in self.ctx.host.running():
            self._queue.put((record_id, None, _RELAY))

    def delivered(self, record_id: str, seq: int) -> None:
        """The recorder of `record_id` here has the desired state up to `seq` (a command reached it)."""
        with self._seen_lock:
            self._seen[record_id] = max(seq, self._seen.get(record_id, 0))

    def lost(self, record_id: str, epoch: int | None, reason: str) -> None:
        """A recorder of this host died (called on the sink's thread, its salvaged segments stored)."""
        self._queue.put((record_id, epoch, reason))

    def _run(self) -> None:
        scan_s = self.ctx.settings.lease_scan_s
        next_scan = time.monotonic() + scan_s
        while True:
            try:
                item = self._queue.get(timeout=max(0.0, next_scan - time.monotonic()))
            except queue.Empty:
                item = ("", None, "")
            if item is None:
                return
            record_id, epoch, reason = item
            try:
                if reason == _RELAY:
                    self._relay()
                elif record_id and epoch is not None:
                    self._take_over(record_id, epoch, reason, expired=False)
                if time.monotonic() >= next_scan:
                    next_scan = time.monotonic() + scan_s
                    self._adopt_orphans()
                    self._scan()
                    self._relay()
            except Exception:
                log.exception("succession of %s failed", record_id or "expired leases")

    def _adopt_orphans(self) -> None:
        """Recorders that outlived their server go on under this one: same epoch, no gap."""
        settings = self.ctx.settings
        running = self.ctx.host.running()
        with self.ctx.sessions() as s:
            tasks = s.scalars(
                select(Task).where(
                    Task.status.in_([int(st) for st in LEASED]),
                    Task.host_id != self.ctx.instance_id,
                    Task.lease_expires.is_not(None),
                    Task.lease_expires < time.time() + settings.lease_ttl_s - ADOPT_AFTER_S,
                )
            ).all()
            for task in tasks:
                if task.record_id in running:
                    continue
                streams = GroupRegistry(self.ctx, s).stream_infos(task.app_id, task.group_id)
                spec = replace(build_spec(task, streams, settings), epoch=task.lease_epoch)
                if not self.ctx.host.adopt(spec):
                    continue
                s.execute(
                    update(Task)
                    .where(Task.id == task.id, Task.lease_epoch == task.lease_epoch)
                    .values(
                        host_id=self.ctx.instance_id,
                        lease_expires=time.time() + settings.lease_ttl_s + START_GRACE_S,
                    ),
                    execution_options={"synchronize_session": False},
                )
                s.commit()
                with self._seen_lock:
                    self._seen[task.record_id] = 0  # changes it may have missed are relayed once
                log.warning("task %s: its recorder outlived its server and goes on here", task.record_id)

    def _scan(self) -> None:
        """Take over the tasks whose lease expired (their recorder, or its whole server, is gone)."""
        with self.ctx.sessions() as s:
            rows = s.execute(
                select(Task.record_id, Task.lease_epoch).where(
                    Task.status.in_([int(st) for st in LEASED]),
                    Task.lease_expires.is_not(None),
                    Task.lease_expires < time.time(),
                )
            ).all()
        for record_id, epoch in rows:
            if self.ctx.host.free_slots() <= 0 and record_id not in self.ctx.host.running():
                log.warning("task %s has no live recorder, and no capacity is left here", record_id)
                continue
            ttl = self.ctx.settings.lease_ttl_s
            self._take_over(record_id, epoch, f"its recorder sent nothing for {ttl:g} s", expired=True)

    def _relay(self) -> None:
        """Changes of the desired state that another server received reach the recorders running here
        (at once when it notified us, else within `lease_scan_s`; the commands carry the request's time)."""
        running = self.ctx.host.running()
        with self._seen_lock:
            for gone in set(self._seen) - running:
                del self._seen[gone]
        if not running:
            return
        with self.ctx.sessions() as s:
            tasks = s.scalars(
                select(Task).where(
                    Task.host_id == self.ctx.instance_id,
                    Task.status.in_([int(st) for st in LEASED]),
                    Task.desired_seq > 0,
                )
            ).all()
            for task in tasks:
                with self._seen_lock:
                    if task.record_id not in running or self._seen.get(task.record_id, 0) >= task.desired_seq:
                        continue
                    self._seen[task.record_id] = task.desired_seq
                log.info("task %s: relaying its desired state (change %d)", task.record_id, task.desired_seq)
                for cmd in desired_commands(task):
                    self.ctx.host.command(task.record_id, cmd)

    def _take_over(self, record_id: str, epoch: int, reason: str, *, expired: bool) -> None:
        ctx = self.ctx
        with ctx.sessions() as s:
            if not claim(s, record_id, epoch, ctx.instance_id, ctx.settings.lease_ttl_s, expired=expired):
                return  # another server took it over, or it ended meanwhile
        new = epoch + 1
        log.warning("task %s: %s; lease epoch %d -> %d", record_id, reason, epoch, new)
        ctx.host.abandon(record_id, epoch)  # a recorder of the old epoch running here stops for good
        if expired:
            self._salvage(record_id, new)
        self.sink.drain()  # the salvaged segments are stored before the next index and the gap are read
        with ctx.sessions() as s:
            task = s.scalar(select(Task).where(Task.record_id == record_id))
            if task is None or task.lease_epoch != new:
                return
            if task.status in (TaskStatus.QUEUED, TaskStatus.ENCODING):
                figures = Stats(task.media_duration - task.media_base, task.flow_bytes - task.flow_base)
                self.sink.handle(record_id, Finished(figures), new)  # the finish was asked already
                return
            now = time.time()
            settings = ctx.settings
            restarts = [t for t in task.restarts or [] if t > now - settings.restart_window_s]
            if len(restarts) >= settings.restart_budget:
                self.sink.handle(
                    record_id,
                    Failed(
                        f"{reason}; restart budget spent ({len(restarts)} successors within "
                        f"{settings.restart_window_s:g} s); files recorded are kept"
                    ),
                    new,
                )
                return
            files = s.execute(
                select(File.index, File.start_time, File.duration, File.start_offset).where(
                    File.task_id == task.id
                )
            ).all()
            next_index = max((f[0] for f in files), default=0) + 1
            if task.record_mode == RecordMode.PER_STREAM:
                recorded, end = _timeline_end(task, files)
            else:
                recorded = sum(f.duration for f in files)
                end = max((f.start_time + f.duration for f in files), default=task.start_time or now)
            values: dict[str, Any] = {
                "restarts": [*restarts, now],
                "media_base": recorded,
                "media_duration": recorded,
                "flow_base": task.flow_bytes,
            }
            gap = _gap(task, end, now, recorded, next_index)
            if gap is not None:
                values["gaps"] = [*(task.gaps or []), gap]
            s.execute(
                update(Task).where(Task.id == task.id, Task.lease_epoch == new).values(values),
                execution_options={"synchronize_session": False},
            )
            s.commit()
            s.refresh(task)
            streams = GroupRegistry(ctx, s).stream_infos(task.app_id, task.group_id)
            spec = replace(
                build_spec(task, streams, settings),
                start_at=now,
                epoch=new,
                first_index=next_index,
                timeline_offset=recorded,  # per-stream files continue the task's timeline
                pending=pending_segments(s, task.id),  # the successor stores what its predecessor could not
            )
            self.delivered(record_id, task.desired_seq)  # the spec has the desired state
        try:
            ctx.host.start(spec)
        except Exception as exc:
            log.exception("no successor could be started for %s", record_id)
            self.sink.handle(record_id, Failed(f"{reason}; no successor could be started: {exc}"), new)
            return
        log.warning("task %s continues with recorder epoch %d from segment %d", record_id, new, next_index)

    def _salvage(self, record_id: str, epoch: int) -> None:
        """What a recorder whose lease expired left unstored here, stored by a salvage (nothing is
        found when it ran on another machine; its files there wait for a host there)."""

        with self.ctx.sessions() as s:
            task = s.scalar(select(Task).where(Task.record_id == record_id))
            if task is None:
                return
            job = salvage_job(self.ctx, s, task, probe=True)
        job = replace(job, store_wait_seconds=DEATH_STORE_WAIT_S)
        for report in self.ctx.host.salvage(job):
            self.sink.handle(record_id, report, epoch)


def _timeline_end(task: Task, files: Any) -> tuple[float, float]:
    """A per-stream task's timeline before a gap (seconds, its `media_duration`) and the Unix time it
    reached there: the end of the file that ends last on it, or further when the last figures
    reported say so (its streams had left: the timeline went on without files)."""
    last = max(files, key=lambda f: (f.start_offset or 0.0) + f.duration, default=None)
    offset = 0.0 if last is None else max(0.0, (last.start_offset or 0.0) + last.duration)
    end = (task.start_time or time.time()) if last is None else last.start_time + last.duration
    if task.media_duration > offset:  # the figures are of the timeline, a second stale at most
        end += task.media_duration - offset
        offset = task.media_duration
    return offset, end


def _gap(task: Task, end: float, now: float, recorded: float, next_index: int) -> dict[str, Any] | None:
    """What was not recorded: from `end` (of the last stored media; the start, without files) to
    `now`, when the successor's timeline starts; None when nothing was recording (not started, paused).
    A per-stream task's gap lies before the first file from `index` on of each stream recorded before."""
    if task.status != TaskStatus.RECORDING or task.paused or task.start_time is None:
        return None
    return {
        "start": round(end, GAP_DECIMALS),
        "offset": round(recorded, GAP_DECIMALS),  # seconds of media before the gap
        "duration": round(max(0.0, now - end), GAP_DECIMALS),
        "index": next_index,  # the segment that follows the gap
    }
