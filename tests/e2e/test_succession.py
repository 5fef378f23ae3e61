"""A recording outlives its recorder: a killed one is replaced, a crash loop ends, a stale one is fenced."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

from api.harness import DatabaseFactory, LiveServer, Tenant, start_server
from support.decode import close, media_duration, pixel, video_frames
from support.server import E2E_SETTINGS, PublishFn, download, publish_stream

W, H = 320, 180
BLUE = (0, 0, 255)
SUCCESSOR_S = 2.0  # the bound: a successor records within 2 s of the death


def start_auto(tenant: Tenant, group: str, **init: Any) -> str:
    body: dict[str, Any] = {"width": W, "height": H, "frame_rate": 15, "timeout": 60, "auto": {}, **init}
    reply = tenant.call("/v1/record/init", group_id=group, **body)
    assert reply["code"] == 0, reply
    record_id: str = reply["record_id"]
    return record_id


def publish_into(tenant: Tenant, publish: PublishFn, group: str) -> None:
    pub, url = publish(group, color=BLUE, tone_hz=440.0)
    pub.wait_live(url)
    publish_stream(tenant, group, "u1", url, media_type=2)
    publish_stream(tenant, group, "u1", url, media_type=1)


def kill_and_wait_successor(server: LiveServer, record_id: str) -> float:
    """SIGKILL the task's recorder; seconds until another recorder process runs the task."""
    pid = server.host.pid(record_id)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    while server.host.pid(record_id) in (None, pid):
        assert time.monotonic() - killed < 10, "no successor"
        time.sleep(0.01)
    return time.monotonic() - killed


def check_files(files: list[tuple[Path, dict[str, Any]]], name: str) -> None:
    """Consecutive names, each file decodes alone and shows the source."""
    assert [p.name for p, _ in files] == [f"{name}_{i:04d}.mp4" for i in range(1, len(files) + 1)]
    for path, _ in files:
        frames = video_frames(path)
        assert len(frames) >= 5, path.name
        assert close(pixel(frames[-1][1], W // 2, H // 2), BLUE), path.name


def test_killed_recorder_is_replaced_and_the_gap_reported(
    tenant: Tenant, publish: PublishFn, tmp_path: Path
) -> None:
    publish_into(tenant, publish, "kill")
    record_id = start_auto(tenant, "kill", file_duration=15, file_name="crash")  # 3 s segments
    time.sleep(7.0)  # two closed segments, a third open for about a second
    took = kill_and_wait_successor(tenant.server, record_id)
    assert took <= SUCCESSOR_S, took
    assert tenant.task(record_id)["status"] == 2
    time.sleep(4.0)
    reply = tenant.call("/v1/record/finish", record_id=record_id)
    assert reply["code"] == 0, reply
    task = tenant.wait_status(record_id, 6, timeout=30)
    (gap,) = task["gaps"]
    assert 0 < gap["duration"] <= SUCCESSOR_S, gap
    print(f"successor after {took:.2f} s; gap {gap['duration']:.2f} s")  # shown with -s
    assert reply["gaps"] == task["gaps"]
    files = download(tenant, record_id, tmp_path / "out")
    check_files(files, "crash")
    assert len(files) >= 4, [p.name for p, _ in files]
    durations = [media_duration(p) for p, _ in files]
    # the gap joins the dead recorder's last file (salvaged) and the successor's first
    extents = [json.loads(item["extent"]) for _, item in files]
    with_gap = [e["index"] for e in extents if "gaps" in e]
    assert len(with_gap) == 1, extents
    before = with_gap[0] - 1
    assert abs(gap["offset"] - sum(durations[:before])) < 0.1, (gap, durations)
    assert extents[before]["gaps"] == task["gaps"]
    # what was recorded, and only that
    assert abs(reply["media_duration"] - sum(durations)) < 1.0, (reply, durations)
    assert tenant.row(record_id).lease_epoch == 2


def test_a_crash_loop_fails_the_task_after_the_restart_budget(
    databases: DatabaseFactory, publish: PublishFn, tmp_path: Path
) -> None:
    server = start_server(
        tmp_path / "data", databases.new_url(), real_time=True, **E2E_SETTINGS, restart_budget=2
    )
    try:
        tenant = server.tenant()
        publish_into(tenant, publish, "loop")
        record_id = start_auto(tenant, "loop", file_duration=15, file_name="loop")
        for _ in range(2):  # within the budget: successors
            time.sleep(2.5)
            kill_and_wait_successor(server, record_id)
            assert tenant.task(record_id)["status"] == 2
        time.sleep(2.5)
        pid = server.host.pid(record_id)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)  # one more: the budget is spent
        task = tenant.wait_status(record_id, -1, timeout=15)
        assert "restart budget spent" in tenant.row(record_id).error
        assert server.host.pid(record_id) is None
        assert len(task["gaps"]) == 2
        files = download(tenant, record_id, tmp_path / "out")  # every file kept
        check_files(files, "loop")
        assert len(files) >= 3
    finally:
        server.stop()


def test_a_stale_recorder_writes_nothing_after_its_successor_took_over(
    databases: DatabaseFactory, publish: PublishFn, tmp_path: Path
) -> None:
    """Two servers on one database (one machine): A's recorder stops (SIGSTOP) until its lease expires
    and B's successor runs the task, then goes on (SIGCONT): none of its reports counts."""
    data, db_url = tmp_path / "data", databases.new_url()
    leases = {**E2E_SETTINGS, "lease_ttl_s": 3.0}
    a = start_server(data, db_url, real_time=True, **leases, lease_scan_s=3600.0)  # B takes over
    b = start_server(data, db_url, real_time=True, **leases, lease_scan_s=0.2)
    try:
        ta = a.tenant()
        publish_into(ta, publish, "stale")
        record_id = start_auto(ta, "stale", file_duration=15, file_name="stale")
        time.sleep(4.0)
        stale = a.host.pid(record_id)
        assert stale is not None
        os.kill(stale, signal.SIGSTOP)
        deadline = time.monotonic() + 10
        while b.host.pid(record_id) is None:
            assert time.monotonic() < deadline, "B did not take the task over"
            time.sleep(0.05)
        row = ta.row(record_id)
        assert (row.lease_epoch, row.host_id, row.status) == (2, b.ctx.instance_id, 2)
        time.sleep(2.0)
        assert a.ctx.sink is not None
        refused = a.ctx.sink.fenced
        os.kill(stale, signal.SIGCONT)
        deadline = time.monotonic() + 10
        while a.host.pid(record_id) is not None:  # its first report is refused, and it is stopped
            assert time.monotonic() < deadline, "the stale recorder still runs"
            time.sleep(0.05)
        assert a.ctx.sink.fenced > refused
        tb = b.tenant_of(ta.dev_id, ta.dev_secret, ta.app_id)
        time.sleep(2.0)
        reply = tb.call("/v1/record/finish", record_id=record_id)
        assert reply["code"] == 0, reply
        task = tb.wait_status(record_id, 6, timeout=30)
        assert len(task["gaps"]) == 1
        files = download(tb, record_id, tmp_path / "out")
        check_files(files, "stale")
        rows = ta.row(record_id)
        assert rows.lease_epoch == 2 and rows.host_id == b.ctx.instance_id
        assert abs(reply["media_duration"] - sum(media_duration(p) for p, _ in files)) < 1.0
    finally:
        b.stop()
        a.stop()
