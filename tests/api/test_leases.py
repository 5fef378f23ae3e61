"""Task leases: reports count only from the current epoch; expired leases are taken over, live ones never."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from api.harness import LIVE_SERVER_SETTINGS, DatabaseFactory, LiveServer, Tenant, start_server
from cloudrec.db.models import File, Task
from cloudrec.recorder.spec import (
    Failed,
    Finish,
    Resume,
    SegmentClosed,
    SegmentInfo,
    SetLayout,
    Stats,
    Suspend,
)
from cloudrec.tasks.leases import START_GRACE_S

# Servers of one database share its keys (the developers' sealed secrets, the URL signatures).
SHARED_KEYS = {"secrets_key": "ab" * 32, "signing_key": "cd" * 32}
FAST_LEASES: dict[str, Any] = {
    **LIVE_SERVER_SETTINGS,
    **SHARED_KEYS,
    "lease_ttl_s": 2.5,
    "lease_scan_s": 0.1,
}


def wait_for(check: Callable[[], bool], timeout: float = 10.0, msg: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, msg
        time.sleep(0.02)


def segment(tenant: Tenant, record_id: str, index: int) -> SegmentInfo:
    work = tenant.server.settings.work_dir / record_id
    work.mkdir(parents=True, exist_ok=True)
    path = work / f"{record_id}_{index:04d}.mp4"
    path.write_bytes(b"x" * 100)
    md5 = hashlib.md5(path.read_bytes()).hexdigest()
    return SegmentInfo(index, path.name, str(path), 100, md5, 3.0, tenant.server.clock.time())


def test_reports_count_only_from_the_current_epoch(tenant: Tenant, live_server: LiveServer) -> None:
    record_id = tenant.seed_task(2, host_id="elsewhere", lease_epoch=3, lease_expires=time.time() + 3600)
    sink = live_server.ctx.sink
    assert sink is not None
    refused = sink.fenced
    sink.handle(record_id, Stats(media_duration=50.0, flow_bytes=999), 2)  # a recorder presumed dead
    sink.handle(record_id, SegmentClosed(segment(tenant, record_id, 1)), 2)
    sink.handle(record_id, Failed("stale"), 2)
    sink.drain()
    row = tenant.row(record_id)
    assert (row.status, row.media_duration, row.flow_bytes, row.file_size) == (2, 0.0, 0, 0)
    assert sink.fenced == refused + 3
    with live_server.ctx.sessions() as s:
        assert not s.scalars(select(File).where(File.task_id == row.id)).all()
    # the current epoch's reports count, on top of what the recorders before it recorded
    tenant.set_row(record_id, media_base=10.0, flow_base=1000, lease_expires=0.0)
    sink.handle(record_id, Stats(media_duration=5.0, flow_bytes=24), 3)
    sink.handle(record_id, SegmentClosed(segment(tenant, record_id, 1)), 3)
    sink.drain()
    row = tenant.row(record_id)
    assert (row.media_duration, row.flow_bytes, row.file_size) == (15.0, 1024, 100)
    assert row.lease_expires is not None and row.lease_expires > time.time()  # renewed
    assert sink.fenced == refused + 3


def test_an_expired_lease_is_taken_over(databases: DatabaseFactory, tmp_path: Path) -> None:
    """The task of a server that is gone: the scan finds its expired lease, a successor records it."""
    server = start_server(tmp_path / "data", databases.new_url(), **FAST_LEASES)
    try:
        tenant = server.tenant()
        record_id = tenant.seed_task(2, host_id="gone", lease_epoch=1, lease_expires=time.time() - 1)
        wait_for(lambda: record_id in server.host.running(), msg="no successor")
        row = tenant.row(record_id)
        assert (row.status, row.lease_epoch, row.host_id) == (2, 2, server.ctx.instance_id)
        assert len(row.restarts or []) == 1 and len(row.gaps or []) == 1
        assert server.host.spec_of(record_id).epoch == 2
        # its recorder renews the lease: it is not taken over again once its start's grace is over
        time.sleep(FAST_LEASES["lease_ttl_s"] + START_GRACE_S + 0.5)
        assert tenant.row(record_id).lease_epoch == 2
        assert tenant.call("/v1/record/finish", record_id=record_id)["code"] == 0
        tenant.wait_status(record_id, 6)
    finally:
        server.stop()


def test_a_second_server_leaves_the_live_tasks_of_the_first_alone(
    databases: DatabaseFactory, tmp_path: Path
) -> None:
    db_url = databases.new_url()
    first = start_server(tmp_path / "a", db_url, **FAST_LEASES)
    try:
        tenant = first.tenant()
        record_id = tenant.start_manual()
        never_leased = tenant.seed_task(2)  # no lease: no recorder was ever granted it
        second = start_server(tmp_path / "b", db_url, **FAST_LEASES)
        try:
            time.sleep(3.0)  # many scans of both, more than a lease's life
            assert record_id in first.host.running() and not second.host.running()
            row = tenant.row(record_id)
            assert (row.status, row.lease_epoch, row.host_id) == (2, 1, first.ctx.instance_id)
            assert tenant.row(never_leased).status == 2
            # a finish through the second server does not end a task whose recorder the first runs
            other = second.tenant_of(tenant.dev_id, tenant.dev_secret, tenant.app_id)
            assert other.call("/v1/record/finish", record_id=never_leased)["code"] == 0
            assert tenant.task(never_leased)["status"] == -1  # nobody held it
        finally:
            second.stop()
        assert tenant.task(record_id)["status"] == 2  # stopping the second touched nothing either
        with first.ctx.sessions() as s:
            assert s.scalar(select(Task.lease_epoch).where(Task.record_id == record_id)) == 1
        assert tenant.call("/v1/record/finish", record_id=record_id)["code"] == 0
        tenant.wait_status(record_id, 6)
    finally:
        first.stop()


def test_commands_through_another_server_reach_the_recorder(
    databases: DatabaseFactory, tmp_path: Path
) -> None:
    """Init on one server, set/layout, suspend, resume and finish on the other: the owner of the
    recorder relays each change from the database."""
    db_url = databases.new_url()
    first = start_server(tmp_path / "a", db_url, **FAST_LEASES)
    second = start_server(tmp_path / "b", db_url, **FAST_LEASES)
    try:
        tenant = first.tenant()
        record_id = tenant.init(group_id="relay")
        other = second.tenant_of(tenant.dev_id, tenant.dev_secret, tenant.app_id)
        layout = {
            "video_list": [
                {"user_id": "u1", "media_id": "m1", "media_type": 2, "x": 0, "y": 0, "w": 64, "h": 48}
            ]
        }
        assert other.call("/v1/record/set/layout", record_id=record_id, **layout)["code"] == 0
        wait_for(
            lambda: any(
                isinstance(c, SetLayout) and c.layout.video for c in first.host.commands_of(record_id)
            ),
            msg="the layout did not reach the recorder",
        )
        (tile,) = next(c for c in first.host.commands_of(record_id) if isinstance(c, SetLayout)).layout.video
        assert (tile.user_id, tile.w, tile.h) == ("u1", 64, 48)
        assert other.call("/v1/record/suspend", record_id=record_id)["code"] == 0
        wait_for(
            lambda: any(isinstance(c, Suspend) for c in first.host.commands_of(record_id)), msg="suspend"
        )
        assert other.call("/v1/record/resume", record_id=record_id)["code"] == 0
        wait_for(lambda: any(isinstance(c, Resume) for c in first.host.commands_of(record_id)), msg="resume")
        reply = other.call("/v1/record/finish", record_id=record_id)
        assert reply["code"] == 0, reply
        other.wait_status(record_id, 6)  # the first server's recorder finished it
        assert any(isinstance(c, Finish) for c in first.host.commands_of(record_id))
        assert not second.host.running() and not second.host.starts
    finally:
        second.stop()
        first.stop()


def test_on_postgresql_a_change_reaches_the_other_servers_recorder_at_once(
    databases: DatabaseFactory, tmp_path: Path
) -> None:
    """LISTEN/NOTIFY: with the scan's polling out of the way (an hour), a layout set through the second
    server reaches the first one's recorder within a fraction of a second."""
    if not databases.is_postgres:
        pytest.skip("SQLite runs one server: nothing to notify")
    db_url = databases.new_url()
    slow_scan = {**FAST_LEASES, "lease_scan_s": 3600.0, "lease_ttl_s": 3600.0}
    first = start_server(tmp_path / "a", db_url, **slow_scan)
    second = start_server(tmp_path / "b", db_url, **slow_scan)
    try:
        tenant = first.tenant()
        record_id = tenant.init(group_id="notify")
        time.sleep(0.5)  # both listeners are up
        other = second.tenant_of(tenant.dev_id, tenant.dev_secret, tenant.app_id)
        tile = {"user_id": "u1", "media_id": "m1", "media_type": 2, "x": 0, "y": 0, "w": 64, "h": 48}
        asked = time.monotonic()
        assert other.call("/v1/record/set/layout", record_id=record_id, video_list=[tile])["code"] == 0
        wait_for(
            lambda: any(
                isinstance(c, SetLayout) and c.layout.video for c in first.host.commands_of(record_id)
            ),
            timeout=2.0,
            msg="the layout did not reach the recorder at once",
        )
        took = time.monotonic() - asked
        assert took < 1.0, took
    finally:
        second.stop()
        first.stop()
