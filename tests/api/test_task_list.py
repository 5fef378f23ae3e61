"""GET /v1/record/task/list: fields, newest first, filters, time forms, pages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from api.harness import LiveServer, ServerFactory, Tenant

LIST = "/v1/record/task/list"


def _ids(reply: dict[str, Any]) -> list[str]:
    assert reply["code"] == 0, reply
    return [t["record_id"] for t in reply["record_list"]]


def test_fields_of_a_task(tenant: Tenant, live_server: LiveServer) -> None:
    record_id = tenant.start_manual(group_id="class1")
    tenant.call("/v1/record/suspend", record_id=record_id)
    reply = tenant.get(LIST)
    assert reply["code"] == 0 and reply["msg"] == "OK" and reply["total_num"] == 1
    (task,) = reply["record_list"]
    started = datetime.fromtimestamp(tenant.row(record_id).start_time or 0, UTC).strftime("%Y-%m-%d %H:%M:%S")
    assert task == {
        "record_id": record_id,
        "record_mode": 0,
        "group_id": "class1",
        "start_time": started,
        "stop_time": None,
        "status": 2,
        "file_size": 0,
        "paused": True,
        "file_name": record_id,
        "company_id": "",
        "record_time": 0,
        "width": 1920,
        "height": 1080,
        "auto": 0,
        "gaps": [],  # cloudrec: no recorder died
    }


def test_file_size_counts_every_segment(tenant: Tenant) -> None:
    record_id = tenant.finished()
    tenant.add_segments(record_id, 3, size=1000)
    assert tenant.task(record_id)["file_size"] == 3000


def test_newest_first_and_pages(tenant: Tenant, live_server: LiveServer) -> None:
    made = []
    for _ in range(5):
        made.append(tenant.init())
        live_server.clock.advance(1)
    newest_first = made[::-1]
    assert _ids(tenant.get(LIST)) == newest_first
    assert tenant.get(LIST)["total_num"] == 5
    assert _ids(tenant.get(LIST, page_size=2)) == newest_first[:2]
    assert _ids(tenant.get(LIST, page_size=2, page=2)) == newest_first[2:4]
    assert _ids(tenant.get(LIST, page_size=2, page=3)) == newest_first[4:]
    beyond = tenant.get(LIST, page_size=2, page=4)
    assert beyond["total_num"] == 5 and beyond["record_list"] == []


def test_same_second_tasks_keep_creation_order(tenant: Tenant) -> None:
    made = [tenant.init() for _ in range(3)]
    assert _ids(tenant.get(LIST)) == made[::-1]


@pytest.mark.parametrize(
    ("field", "value", "ok"),
    [
        ("page", 0, False),
        ("page", 1, True),
        ("page", 2**31 - 1, True),
        ("page", 2**31, False),
        ("page", -1, False),
        ("page_size", 0, False),
        ("page_size", 1, True),
        ("page_size", 500, True),
        ("page_size", 501, False),
        ("page_size", "abc", False),
        ("page_size", "1.5", False),
        ("page_size", "true", False),
    ],
)
def test_page_edges(tenant: Tenant, field: str, value: Any, ok: bool) -> None:
    reply = tenant.get(LIST, **{field: value})
    if ok:
        assert reply["code"] == 0, reply
    else:
        assert reply["code"] == 6050030003, reply
        assert field in reply["msg"]


def test_page_size_500_returns_up_to_500(tenant: Tenant) -> None:
    made = {tenant.seed_task(6) for _ in range(3)}
    assert set(_ids(tenant.get(LIST, page_size=500))) == made


def test_filter_by_record_id_and_group(tenant: Tenant) -> None:
    a = tenant.init(group_id="room-a")
    b = tenant.init(group_id="room-b")
    c = tenant.init(group_id="room-a")
    assert _ids(tenant.get(LIST, record_id=b)) == [b]
    assert _ids(tenant.get(LIST, group_id="room-a")) == [c, a]
    assert _ids(tenant.get(LIST, group_id="room-a", record_id=b)) == []
    assert _ids(tenant.get(LIST, record_id="unknown")) == []


def test_empty_filters_are_ignored(tenant: Tenant) -> None:
    a = tenant.init()
    assert _ids(tenant.get(LIST, group_id="", status="", start_time="", record_id="")) == [a]


@pytest.mark.parametrize("status", [-1, 1, 2, 3, 4, 5, 6])
def test_filter_by_status(tenant: Tenant, status: int) -> None:
    seeded = {s: tenant.seed_task(s) for s in (-1, 1, 2, 3, 4, 5, 6)}
    assert _ids(tenant.get(LIST, status=status)) == [seeded[status]]
    assert _ids(tenant.get(LIST, status=str(status))) == [seeded[status]]


@pytest.mark.parametrize("status", [8, -2, "x", "1.0"])
def test_bad_status(tenant: Tenant, status: Any) -> None:
    reply = tenant.get(LIST, status=status)
    assert reply["code"] == 6050030003 and "status" in reply["msg"]


def _utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def test_time_filters_in_every_form(tenant: Tenant, live_server: LiveServer) -> None:
    t0 = float(int(live_server.clock.time())) + 1
    early = tenant.seed_task(6, start_time=t0, stop_time=t0 + 100)
    late = tenant.seed_task(6, start_time=t0 + 200, stop_time=t0 + 300)
    iso = datetime.fromtimestamp(t0 + 150, UTC).isoformat()
    for start in (_utc(t0 + 150), iso, str(int(t0 + 150)), f"{t0 + 150:.3f}"):
        assert _ids(tenant.get(LIST, start_time=start)) == [late], start
    for stop in (_utc(t0 + 150), str(int(t0 + 150))):
        assert _ids(tenant.get(LIST, stop_time=stop)) == [early], stop
    # edges are inclusive: started at or after, stopped at or before
    assert _ids(tenant.get(LIST, start_time=_utc(t0 + 200), stop_time=_utc(t0 + 300))) == [late]
    assert _ids(tenant.get(LIST, start_time=_utc(t0 + 201))) == []
    assert _ids(tenant.get(LIST, stop_time=_utc(t0 + 99))) == []
    # an ISO time with an offset names the same instant
    shifted = datetime.fromtimestamp(t0 + 200).astimezone().isoformat()
    assert _ids(tenant.get(LIST, start_time=shifted)) == [late]


@pytest.mark.parametrize("value", ["yesterday", "2024-13-01 00:00:00", "1e10", "99999999999999999999", "nan"])
def test_bad_time_filter(tenant: Tenant, value: str) -> None:
    for field in ("start_time", "stop_time"):
        reply = tenant.get(LIST, **{field: value})
        assert reply["code"] == 6050030003, reply
        assert field in reply["msg"]


def test_missing_app_id(tenant: Tenant) -> None:
    r = tenant.client.get(LIST)
    assert r.json()["code"] == 6050030003 and "app_id" in r.json()["msg"]


def test_times_use_the_configured_time_zone(server_factory: ServerFactory) -> None:
    server = server_factory(timezone="Asia/Shanghai")
    tenant = server.tenant()
    t0 = float(int(server.clock.time()))
    record_id = tenant.seed_task(6, start_time=t0, stop_time=t0 + 60)
    local = datetime.fromtimestamp(t0, ZoneInfo("Asia/Shanghai"))
    task = tenant.task(record_id)
    assert task["start_time"] == local.strftime("%Y-%m-%d %H:%M:%S")
    # a filter without an offset is read in that zone too
    assert _ids(tenant.get(LIST, start_time=local.strftime("%Y-%m-%d %H:%M:%S"))) == [record_id]
