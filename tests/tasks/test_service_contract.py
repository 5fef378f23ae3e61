"""The task service and the progress handling against an in-memory recorder host (a real database).

`MemoryHost` is a second `RecorderHost`: what the control plane asks of any host, and what it does with
what a host reports, is tested here without recorder processes. Like every host, it stores segments on
the recorder side (`recorder.store` into the store its specs describe) and reports stored objects; a
death is reported after the salvage's reports."""

from __future__ import annotations

import hashlib
import pickle
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from api.harness import DatabaseFactory
from sqlalchemy import select

from cloudrec.clock import SystemClock
from cloudrec.config import Settings
from cloudrec.context import AppContext
from cloudrec.db.migrate import upgrade
from cloudrec.db.models import App, Developer, File, Task
from cloudrec.db.session import make_engine, make_sessionmaker
from cloudrec.errors import CapacityError
from cloudrec.recorder.progress import DbProgressSink
from cloudrec.recorder.spec import (
    Command,
    Finish,
    Finished,
    Layout,
    Lost,
    Progress,
    SalvageJob,
    SegmentClosed,
    SegmentInfo,
    SegmentStored,
    Snapshot,
    Started,
    Stats,
    StreamInfo,
    TaskSpec,
)
from cloudrec.recorder.store import SegmentStore
from cloudrec.storage.local import LocalStorage
from cloudrec.storage.spec import StorageSpec
from cloudrec.tasks.leases import new_instance_id
from cloudrec.tasks.restore import Restorer
from cloudrec.tasks.service import TaskOptions, TaskService
from cloudrec.tasks.succession import Succession


class MemoryHost:
    """Runs nothing: a started task reports Started, a Finish reports Finished with one second of media."""

    def __init__(self, sink: DbProgressSink, capacity: int = 4) -> None:
        self.sink = sink
        self.capacity = capacity
        self.specs: dict[str, TaskSpec] = {}
        self.started: list[TaskSpec] = []
        self.commands: list[tuple[str, Command]] = []
        self.closed: dict[str, list[SegmentInfo]] = {}  # reported closed, not stored (by record_id)
        self._lock = threading.Lock()

    def start(self, spec: TaskSpec) -> None:
        with self._lock:
            if len(self.specs) >= self.capacity:
                raise CapacityError("memory host full")
            self.specs[spec.record_id] = spec
            self.started.append(spec)
        self.sink.handle(spec.record_id, Started(time.time()), spec.epoch)

    def command(self, record_id: str, cmd: Command) -> bool:
        with self._lock:
            spec = self.specs.get(record_id)
            if spec is None:
                return False
            self.commands.append((record_id, cmd))
            if isinstance(cmd, Finish):
                del self.specs[record_id]
        if isinstance(cmd, Finish):
            self.sink.handle(record_id, Finished(Stats(media_duration=1.0, flow_bytes=2048)), spec.epoch)
        return True

    def group_changed(self, app_id: str, group_id: str, streams: tuple[StreamInfo, ...]) -> None:
        pass

    def snapshot(self, record_id: str, width: int) -> Snapshot | None:
        return None  # it composes no picture

    def running(self) -> set[str]:
        with self._lock:
            return set(self.specs)

    def free_slots(self) -> int:
        with self._lock:
            return max(0, self.capacity - len(self.specs))

    def adopt(self, spec: TaskSpec) -> bool:
        return False

    def abandon(self, record_id: str, epoch: int) -> None:
        with self._lock:
            if record_id in self.specs and self.specs[record_id].epoch == epoch:
                del self.specs[record_id]

    def salvage(self, job: SalvageJob) -> list[Progress]:
        assert job.storage is not None
        reports: list[Progress] = []
        store = SegmentStore(job.storage, job.app_id, job.record_id, reports.append)
        for seg in job.pending:
            store.submit(seg)
        store.wait(10)
        store.close()
        return reports

    def close_segment(self, record_id: str, index: int, data: bytes, *, store: bool = True) -> SegmentInfo:
        """The recorder of `record_id` closes a segment holding `data` and (`store`) stores it."""
        with self._lock:
            spec = self.specs[record_id]
        path = Path(spec.work_dir) / f"{spec.file_name}_{index:04d}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        md5 = hashlib.md5(data).hexdigest()
        seg = SegmentInfo(index, path.name, str(path), len(data), md5, 2.0, time.time())
        self.sink.handle(record_id, SegmentClosed(seg), spec.epoch)
        if not store:
            self.closed.setdefault(record_id, []).append(seg)
            self.sink.drain()
            return seg
        assert spec.storage is not None
        stored = SegmentStore(
            spec.storage, spec.app_id, record_id, lambda e: self.sink.handle(record_id, e, spec.epoch)
        )
        stored.submit(seg)
        assert stored.wait(10)
        stored.close()
        self.sink.drain()
        return seg

    def close(self) -> None:
        pass

    def detach(self) -> None:
        pass

    def die(self, record_id: str) -> None:
        """The recorder of `record_id` dies, as a host reports it."""
        with self._lock:
            spec = self.specs.pop(record_id)
        job = SalvageJob(
            spec.record_id,
            spec.app_id,
            spec.work_dir,
            spec.storage,
            pending=tuple(self.closed.pop(record_id, [])),
            min_index=spec.first_index,
        )
        for report in self.salvage(job):
            self.sink.handle(record_id, report, spec.epoch)
        self.sink.handle(record_id, Lost("test: the recorder died"), spec.epoch)


@pytest.fixture
def make_ctx(databases: DatabaseFactory, tmp_path: Path) -> Iterator[Callable[..., AppContext]]:
    made: list[AppContext] = []

    def make(**overrides: object) -> AppContext:
        settings = Settings(
            data_dir=tmp_path / "data",
            database_url=databases.new_url(),
            min_free_disk_mb=1,
            lease_scan_s=0.05,
        )
        settings = settings.model_copy(update=overrides).prepare()
        upgrade(settings.db_url)
        sessions = make_sessionmaker(make_engine(settings.db_url))
        clock = SystemClock()
        storage = LocalStorage(settings.files_dir, settings.base_url, "k" * 32, clock)
        sink = DbProgressSink(sessions, clock, lease_ttl_s=settings.lease_ttl_s)
        ctx = AppContext(
            settings, sessions, MemoryHost(sink), storage, clock, sink=sink, instance_id=new_instance_id()
        )
        ctx.succession = Succession(ctx, sink)
        sink.on_lost = ctx.succession.lost
        sink.on_fenced = ctx.host.abandon
        ctx.succession.start()
        with sessions.begin() as s:
            s.add(Developer(dev_id="d", secret="s", name="", created_at=0.0))
            s.flush()
            s.add(App(app_id="a", dev_id="d", name="", created_at=0.0))
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        assert ctx.succession is not None and ctx.sink is not None
        ctx.succession.close()
        ctx.sink.close()


def host_of(ctx: AppContext) -> MemoryHost:
    assert isinstance(ctx.host, MemoryHost)
    return ctx.host


def row(ctx: AppContext, record_id: str) -> Task:
    with ctx.sessions() as s:
        task = s.scalar(select(Task).where(Task.record_id == record_id))
        assert task is not None
        return task


def wait_for(check: Callable[[], bool], msg: str) -> None:
    deadline = time.monotonic() + 10
    while not check():
        assert time.monotonic() < deadline, msg
        time.sleep(0.01)


def test_a_task_is_granted_a_lease_and_finishes_with_its_hosts_figures(
    make_ctx: Callable[..., AppContext],
) -> None:
    ctx = make_ctx()
    with ctx.sessions() as s:
        task = TaskService(ctx, s).create("a", TaskOptions(group_id="g"))
    (spec,) = host_of(ctx).started
    assert (spec.record_id, spec.epoch, spec.first_index) == (task.record_id, 1, 1)
    lease = row(ctx, task.record_id)
    assert lease.host_id == ctx.instance_id and (lease.lease_expires or 0) > time.time()
    with ctx.sessions() as s:
        done, figures = TaskService(ctx, s).finish("a", task.record_id)
    assert done.status == 6 and (figures.media_duration, figures.flow) == (1, 2)


def test_a_host_reporting_a_death_gets_a_successor_with_the_next_epoch(
    make_ctx: Callable[..., AppContext],
) -> None:
    ctx = make_ctx()
    host = host_of(ctx)
    with ctx.sessions() as s:
        record_id = TaskService(ctx, s).create("a", TaskOptions(group_id="g", auto=None)).record_id
        TaskService(ctx, s).set_layout("a", record_id, Layout())
    host.die(record_id)
    wait_for(lambda: len(host.started) == 2, "no successor")
    successor = host.started[1]
    assert (successor.epoch, successor.first_index, successor.start_at is not None) == (2, 1, True)
    task = row(ctx, record_id)
    assert (task.status, task.lease_epoch, len(task.restarts or [])) == (2, 2, 1)
    assert len(task.gaps or []) == 1  # it was recording: the time until the successor is a gap
    # the dead recorder's epoch no longer counts
    assert ctx.sink is not None
    ctx.sink.handle(record_id, Finished(Stats(99.0, 0)), 1)
    ctx.sink.drain()
    assert row(ctx, record_id).status == 2


def test_a_death_beyond_the_budget_fails_the_task(make_ctx: Callable[..., AppContext]) -> None:
    ctx = make_ctx(restart_budget=0)
    with ctx.sessions() as s:
        record_id = TaskService(ctx, s).create("a", TaskOptions(group_id="g")).record_id
    host_of(ctx).die(record_id)
    wait_for(lambda: row(ctx, record_id).status == -1, "the task did not fail")
    assert "restart budget spent" in row(ctx, record_id).error
    assert len(host_of(ctx).started) == 1


def files(ctx: AppContext, record_id: str) -> list[File]:
    with ctx.sessions() as s:
        task_id = s.scalar(select(Task.id).where(Task.record_id == record_id))
        return list(s.scalars(select(File).where(File.task_id == task_id).order_by(File.index)))


def test_the_spec_describes_the_store_picklable_and_without_its_secret_in_logs(
    make_ctx: Callable[..., AppContext],
) -> None:
    ctx = make_ctx()
    with ctx.sessions() as s:
        TaskService(ctx, s).create("a", TaskOptions(group_id="g"))
    (spec,) = host_of(ctx).started
    assert spec.storage == StorageSpec(kind="local", root=str(ctx.settings.files_dir.resolve()))
    assert pickle.loads(pickle.dumps(spec)) == spec
    s3 = StorageSpec(kind="s3", bucket="b", access_key_id="id", secret_access_key="very-secret")
    assert "very-secret" not in repr(s3) and "very-secret" not in repr(pickle.loads(pickle.dumps(s3)))


def test_segments_the_recorder_stored_are_the_tasks_files(make_ctx: Callable[..., AppContext]) -> None:
    ctx = make_ctx()
    host = host_of(ctx)
    with ctx.sessions() as s:
        record_id = TaskService(ctx, s).create("a", TaskOptions(group_id="g")).record_id
    host.close_segment(record_id, 1, b"first segment")
    (f,) = files(ctx, record_id)
    assert (f.stored, f.local_path, f.storage_key) == (True, "", f"a/{record_id}/{f.name}")
    storage = ctx.storage
    assert isinstance(storage, LocalStorage) and storage.path(f.storage_key).read_bytes() == b"first segment"
    assert not (Path(host.started[0].work_dir) / f.name).exists()  # the store took the local copy
    with ctx.sessions() as s:
        done, _ = TaskService(ctx, s).finish("a", record_id)
    assert done.status == 6


def test_a_stored_report_alone_writes_the_row_as_stored(make_ctx: Callable[..., AppContext]) -> None:
    """A recorder elsewhere may report only what it stored: the row is written then."""
    ctx = make_ctx()
    assert ctx.sink is not None
    with ctx.sessions() as s:
        record_id = TaskService(ctx, s).create("a", TaskOptions(group_id="g")).record_id
    seg = SegmentInfo(1, "x_0001.mp4", "", 7, "0" * 32, 2.0, time.time())
    ctx.sink.handle(record_id, SegmentStored(seg, f"a/{record_id}/x_0001.mp4", "", 0.01), 1)
    ctx.sink.handle(record_id, SegmentStored(seg, f"a/{record_id}/x_0001.mp4", "", 0.01), 1)  # again
    ctx.sink.drain()
    (f,) = files(ctx, record_id)
    assert (f.stored, f.size, f.local_path) == (True, 7, "")
    assert row(ctx, record_id).file_size == 7


def test_a_finish_while_the_recorder_stores_waits_in_5_until_it_stored(
    make_ctx: Callable[..., AppContext],
) -> None:
    ctx = make_ctx()
    assert ctx.sink is not None
    host = host_of(ctx)
    with ctx.sessions() as s:
        record_id = TaskService(ctx, s).create("a", TaskOptions(group_id="g")).record_id
    seg = host.close_segment(record_id, 1, b"slow store", store=False)
    spec = host.specs[record_id]
    with ctx.sessions() as s:
        done, _ = TaskService(ctx, s).finish("a", record_id)
    assert done.status == 5
    key = f"a/{record_id}/{seg.name}"
    ctx.sink.handle(record_id, SegmentStored(seg, key), spec.epoch)
    ctx.sink.drain()
    assert row(ctx, record_id).status == 6


def test_a_stale_recorder_cannot_add_stored_segments(make_ctx: Callable[..., AppContext]) -> None:
    ctx = make_ctx()
    assert ctx.sink is not None
    host = host_of(ctx)
    with ctx.sessions() as s:
        record_id = TaskService(ctx, s).create("a", TaskOptions(group_id="g")).record_id
    host.die(record_id)
    wait_for(lambda: len(host.started) == 2, "no successor")
    seg = SegmentInfo(1, "x_0001.mp4", "", 7, "0" * 32, 2.0, time.time())
    ctx.sink.handle(record_id, SegmentStored(seg, f"a/{record_id}/x_0001.mp4"), 1)  # epoch 1 is gone
    ctx.sink.drain()
    assert files(ctx, record_id) == []


def test_a_dead_recorders_unstored_segment_is_stored_before_its_successor_starts(
    make_ctx: Callable[..., AppContext],
) -> None:
    ctx = make_ctx()
    host = host_of(ctx)
    with ctx.sessions() as s:
        record_id = TaskService(ctx, s).create("a", TaskOptions(group_id="g")).record_id
    host.close_segment(record_id, 1, b"stored")
    host.close_segment(record_id, 2, b"closed, never stored", store=False)
    host.die(record_id)
    wait_for(lambda: len(host.started) == 2, "no successor")
    assert host.started[1].first_index == 3
    assert [(f.index, f.stored) for f in files(ctx, record_id)] == [(1, True), (2, True)]


def test_files_left_unstored_by_ended_recorders_are_stored_by_the_restorer(
    make_ctx: Callable[..., AppContext],
) -> None:
    ctx = make_ctx()
    host = host_of(ctx)
    assert ctx.sink is not None
    with ctx.sessions() as s:
        record_id = TaskService(ctx, s).create("a", TaskOptions(group_id="g")).record_id
    host.close_segment(record_id, 1, b"left behind", store=False)
    with ctx.sessions() as s:
        done, _ = TaskService(ctx, s).finish("a", record_id)  # the recorder ends without storing it
    assert done.status == 5
    restorer = Restorer(ctx, ctx.sink)
    assert restorer.round() == 0
    assert row(ctx, record_id).status == 6
    (f,) = files(ctx, record_id)
    storage = ctx.storage
    assert isinstance(storage, LocalStorage) and storage.path(f.storage_key).read_bytes() == b"left behind"
