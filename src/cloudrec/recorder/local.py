"""The in-process recorder host: one OS process per recording task, supervised by one thread."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import select
import signal
import threading
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

from cloudrec.config import Settings
from cloudrec.errors import CapacityError
from cloudrec.recorder import process as recorder_process
from cloudrec.recorder.host import ProgressSink
from cloudrec.recorder.snapshots import SnapshotCache
from cloudrec.recorder.spec import (
    DEATH_STORE_WAIT_S,
    Command,
    Failed,
    Finished,
    Hello,
    Lost,
    Progress,
    Report,
    SalvageJob,
    SegmentClosed,
    SegmentInfo,
    SegmentStored,
    SetStreams,
    Snapshot,
    StreamInfo,
    TaskSpec,
)

log = logging.getLogger(__name__)

# A start waits this long at most for the standby recorder process being started (the first one also
# starts the forkserver, about a second after the server starts).
SPARE_WAIT_SECONDS = 3.0
# Recorder processes fork from a server process that has the media engine already imported.
_PRELOAD = ["cloudrec.recorder.process", "cloudrec.media.pipeline", "cloudrec.media.probe"]


# A salvage probes a few files and stores them (`SalvageJob.store_wait_seconds` at most): its answer
# comes within this, or the files stay where they are for a later try.
SALVAGE_WAIT_SECONDS = 90.0

# An adopted recorder says who it is at once; longer: it is not one of ours.
HELLO_WAIT_SECONDS = 2.0


class _AdoptedProcess:
    """A recorder process that an earlier server started (not our child), watched through a pidfd."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.sentinel = os.pidfd_open(pid)
        self.exitcode: int | None = None  # only its parent learns it

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)

    def join(self, timeout: float | None = None) -> None:
        select.select([self.sentinel], [], [], timeout)

    def close(self) -> None:
        os.close(self.sentinel)


@dataclass
class _Running:
    spec: TaskSpec
    proc: BaseProcess | _AdoptedProcess
    conn: Connection
    send_lock: threading.Lock = field(default_factory=threading.Lock)
    closed: dict[str, SegmentInfo] = field(default_factory=dict)  # reported closed, by name
    stored: set[str] = field(default_factory=set)  # of those, the names its store confirmed
    ended: bool = False  # Finished or Failed received
    snapshots: SnapshotCache = field(default_factory=SnapshotCache)  # live view, kept in memory only


class LocalRecorderHost:
    """Runs each task in its own OS process on this machine; capacity `settings.max_recordings`."""

    def __init__(self, settings: Settings, sink: ProgressSink) -> None:
        self.settings = settings
        self.sink = sink
        self._mp = multiprocessing.get_context("forkserver")
        self._mp.set_forkserver_preload(_PRELOAD)
        self._lock = threading.Lock()
        self._tasks: dict[str, _Running] = {}
        self._wake_r, self._wake_w = self._mp.Pipe(duplex=False)
        self._closing = False
        self._spare: tuple[BaseProcess, Connection] | None = None  # a recorder waiting for a task
        self._spare_wanted = threading.Event()
        self._spare_ready = threading.Condition(self._lock)
        self._spare_starting = True  # until the first one is there (a start then waits for it)
        self._monitor = threading.Thread(target=self._watch, name="recorder-host", daemon=True)
        self._monitor.start()
        self._standby = threading.Thread(target=self._keep_spare, name="recorder-standby", daemon=True)
        self._standby.start()
        self._spare_wanted.set()  # the first one also starts the forkserver: not on an init's path

    # ---- RecorderHost ---------------------------------------------------------------------

    def start(self, spec: TaskSpec) -> None:
        with self._lock:
            if self._closing:
                raise CapacityError("recorder host is shutting down")
            if spec.record_id in self._tasks:
                return
            if len(self._tasks) >= self.settings.max_recordings:
                raise CapacityError(
                    f"recorder capacity reached: {len(self._tasks)} of {self.settings.max_recordings} "
                    "recordings running"
                )
            Path(spec.work_dir).mkdir(parents=True, exist_ok=True)
            proc, parent = self._take_spare(spec)
            self._tasks[spec.record_id] = _Running(spec=spec, proc=proc, conn=parent)
            log.info("recorder process %s started for %s", proc.pid, spec.record_id)
        self._wake()

    def _take_spare(self, spec: TaskSpec) -> tuple[BaseProcess, Connection]:
        """A waiting recorder process, given `spec`; a new process when none waits (or it died).
        Called with the lock held; waits a little for one that is being started (they come from the
        same forkserver, and a new one would queue behind it)."""
        if self._spare is None and self._spare_starting:
            self._spare_ready.wait(timeout=SPARE_WAIT_SECONDS)
        spare, self._spare = self._spare, None
        self._spare_wanted.set()
        if spare is not None:
            proc, parent = spare
            try:
                parent.send(spec)
                return proc, parent
            except (BrokenPipeError, OSError):
                log.warning("standby recorder process %s was gone: starting one", proc.pid)
                parent.close()
        parent, child = self._mp.Pipe(duplex=True)
        proc = self._mp.Process(
            target=recorder_process.record, args=(spec, child), name=f"rec-{spec.record_id}", daemon=False
        )
        proc.start()
        child.close()
        return proc, parent

    def _keep_spare(self) -> None:
        """Keep one recorder process started and waiting (its own thread: a start takes a while)."""
        while True:
            self._spare_wanted.wait()
            self._spare_wanted.clear()
            with self._lock:
                if self._closing:
                    return
                if self._spare is not None:
                    continue
                self._spare_starting = True
            parent, child = self._mp.Pipe(duplex=True)
            proc: BaseProcess | None = self._mp.Process(
                target=recorder_process.standby, args=(child,), name="rec-standby"
            )
            try:
                assert proc is not None
                proc.start()
            except Exception:
                log.exception("a standby recorder process could not be started")
                proc = None
            child.close()
            with self._lock:
                self._spare_starting = False
                if proc is not None and not self._closing and self._spare is None:
                    self._spare = (proc, parent)
                elif proc is not None:
                    parent.close()  # EOF: it exits
                self._spare_ready.notify_all()

    def command(self, record_id: str, cmd: Command) -> bool:
        with self._lock:
            run = self._tasks.get(record_id)
        if run is None or run.ended:
            return False
        return self._tell(record_id, cmd)

    def _tell(self, record_id: str, cmd: Command) -> bool:
        with self._lock:
            run = self._tasks.get(record_id)
        if run is None:
            return False
        try:
            with run.send_lock:
                run.conn.send(cmd)
        except (BrokenPipeError, OSError):
            return False
        return True

    def group_changed(self, app_id: str, group_id: str, streams: tuple[StreamInfo, ...]) -> None:
        with self._lock:
            ids = [
                rid
                for rid, run in self._tasks.items()
                if run.spec.app_id == app_id and run.spec.group_id == group_id
            ]
        for rid in ids:
            self.command(rid, SetStreams(streams))

    def snapshot(self, record_id: str, width: int) -> Snapshot | None:
        with self._lock:
            run = self._tasks.get(record_id)
        if run is None or run.ended:
            return None
        return run.snapshots.get(width, lambda cmd: self.command(record_id, cmd))

    def running(self) -> set[str]:
        with self._lock:
            return set(self._tasks)

    def free_slots(self) -> int:
        with self._lock:
            return max(0, self.settings.max_recordings - len(self._tasks))

    def adopt(self, spec: TaskSpec) -> bool:
        with self._lock:
            if self._closing or spec.record_id in self._tasks or not spec.control_address:
                return False
        try:
            conn = multiprocessing.connection.Client(
                spec.control_address, family="AF_UNIX", authkey=spec.control_key
            )
        except (OSError, EOFError, multiprocessing.AuthenticationError):
            return False  # no recorder waits for a server there
        try:
            hello = conn.recv() if conn.poll(HELLO_WAIT_SECONDS) else None
            if not isinstance(hello, Hello) or hello.epoch != spec.epoch:
                conn.close()
                return False
            proc = _AdoptedProcess(hello.pid)
        except (EOFError, OSError):
            conn.close()
            return False
        with self._lock:
            self._tasks[spec.record_id] = _Running(spec=spec, proc=proc, conn=conn)
        log.warning("recorder process %s of %s (epoch %d) adopted", hello.pid, spec.record_id, spec.epoch)
        self._wake()
        return True

    def abandon(self, record_id: str, epoch: int) -> None:
        with self._lock:
            run = self._tasks.get(record_id)
            if run is None or run.spec.epoch != epoch:
                return
            del self._tasks[record_id]
            run.ended = True  # nothing more of it reaches the sink
        log.warning(
            "recorder process %s of %s (epoch %d) lost its lease: killed", run.proc.pid, record_id, epoch
        )
        run.proc.kill()
        run.proc.join(timeout=10)
        self._wake()

    def pid(self, record_id: str) -> int | None:
        with self._lock:
            run = self._tasks.get(record_id)
        return run.proc.pid if run is not None else None

    def close(self, timeout_s: float = 30.0) -> None:
        """Finish every running task and wait for its process (the sink gets their last events)."""
        from cloudrec.recorder.spec import Finish

        with self._lock:
            self._closing = True
            ids = list(self._tasks)
            spare, self._spare = self._spare, None
        self._spare_wanted.set()
        if spare is not None:
            spare[1].close()  # EOF: the waiting process exits
            spare[0].join(timeout=5)
        for rid in ids:
            self.command(rid, Finish())
        # Recorders store their last segments before they exit; then those still storing (the store is
        # down) stop waiting: the next server's salvage stores the rest (`tasks.restore`).
        self._monitor.join(timeout=min(timeout_s, self.settings.shutdown_upload_wait_s))
        for rid in self.running():
            self._tell(rid, Finish())
        self._monitor.join(timeout=timeout_s)
        with self._lock:
            leftovers = list(self._tasks.values())
        for run in leftovers:
            run.proc.kill()

    def detach(self) -> None:
        with self._lock:
            self._closing = True
            runs = list(self._tasks.values())
            self._tasks.clear()
            spare, self._spare = self._spare, None
        self._spare_wanted.set()
        if spare is not None:
            spare[1].close()
        self._wake()
        self._monitor.join(timeout=5)  # it stops watching them first
        for run in runs:
            run.ended = True  # what it reports from now on goes to the server that adopts it
            run.conn.close()
            log.info("recorder process %s of %s left running", run.proc.pid, run.spec.record_id)

    # ---- supervision ----------------------------------------------------------------------

    def _wake(self) -> None:
        self._wake_w.send(b"")

    def _watch(self) -> None:
        while True:
            with self._lock:
                if self._closing and not self._tasks:
                    return
                by_conn = {run.conn: run for run in self._tasks.values()}
                by_sentinel = {run.proc.sentinel: run for run in self._tasks.values()}
            ready = multiprocessing.connection.wait([self._wake_r, *by_conn, *by_sentinel], timeout=1.0)
            for obj in ready:
                if obj is self._wake_r:
                    self._wake_r.recv()
                elif isinstance(obj, Connection) and obj in by_conn:
                    self._drain(by_conn[obj])
                elif isinstance(obj, int) and obj in by_sentinel:
                    self._reap(by_sentinel[obj])

    def _drain(self, run: _Running) -> None:
        while True:
            try:
                if not run.conn.poll():
                    return
                report = run.conn.recv()
            except (EOFError, OSError):
                return
            if run.ended and self._tasks.get(run.spec.record_id) is not run:
                return  # abandoned: its lease belongs to a successor
            if not isinstance(report, Report):
                log.error("recorder of %s sent %r, not a report", run.spec.record_id, type(report).__name__)
                continue
            event = report.event
            if isinstance(event, Snapshot):
                run.snapshots.put(event)
                continue
            if isinstance(event, SegmentClosed):
                run.closed[event.segment.name] = event.segment
            elif isinstance(event, SegmentStored):
                run.stored.add(event.segment.name)
            if isinstance(event, (Finished, Failed)):
                run.ended = True
            self.sink.handle(run.spec.record_id, event, report.epoch)

    def _reap(self, run: _Running) -> None:
        run.proc.join()
        rid = run.spec.record_id
        with self._lock:
            current = self._tasks.get(rid) is run
        if not current:  # abandoned: killed for a successor, which reports from now on
            run.conn.close()
            return
        self._drain(run)
        epoch = run.spec.epoch
        died = not run.ended
        if died:
            code = run.proc.exitcode
            how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
            log.error("recorder process of %s died (%s)", rid, how)
            for report in self._salvage(run):
                self.sink.handle(rid, report, epoch)
        run.conn.close()
        if isinstance(run.proc, _AdoptedProcess):
            run.proc.close()
        with self._lock:
            if self._tasks.get(rid) is run:
                del self._tasks[rid]
        if died:  # after it left the table: a successor may start at once
            self.sink.handle(rid, Lost(f"recorder process died ({how})"), epoch)

    def _salvage(self, run: _Running) -> list[Progress]:
        spec = run.spec
        job = SalvageJob(
            record_id=spec.record_id,
            app_id=spec.app_id,
            work_dir=spec.work_dir,
            storage=spec.storage,
            known=tuple(run.closed),
            pending=tuple(seg for name, seg in run.closed.items() if name not in run.stored),
            min_index=spec.first_index,
            store_wait_seconds=DEATH_STORE_WAIT_S,
        )
        return self.salvage(job)

    def salvage(self, job: SalvageJob) -> list[Progress]:
        """Stores what a dead recorder left, in a child process (it probes media and talks to the store)."""
        parent, child = self._mp.Pipe(duplex=False)
        proc = self._mp.Process(target=recorder_process.salvage, args=(job, child), name="rec-salvage")
        proc.start()
        child.close()
        found: list[Progress] = []
        if parent.poll(SALVAGE_WAIT_SECONDS + job.store_wait_seconds):
            try:
                found = parent.recv()
            except EOFError:
                found = []
        proc.join(timeout=5)
        parent.close()
        return found
