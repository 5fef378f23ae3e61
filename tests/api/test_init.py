"""POST /v1/record/init: defaults, every range edge, types, sanitised names, and each refusal."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from api.harness import RECORD_ID, LiveServer, Tenant
from cloudrec.db.models import Task
from cloudrec.recorder.spec import CropMode, FileType

INIT = "/v1/record/init"


def test_manual_task_happy_path(tenant: Tenant, live_server: LiveServer) -> None:
    reply = tenant.call(INIT, group_id="class1", file_name="class1", seq="s-1")
    assert reply["code"] == 0 and reply["msg"] == "OK"
    assert reply["id"] == 8194
    assert reply["seq"] == "s-1"
    assert RECORD_ID.fullmatch(reply["record_id"])
    task = tenant.task(reply["record_id"])
    assert task["status"] == 1 and task["group_id"] == "class1" and task["record_mode"] == 0
    assert task["start_time"] is None and task["stop_time"] is None
    assert task["paused"] is False and task["file_size"] == 0
    # the recorder is started at init (for the timeout rule), without a layout yet
    spec = live_server.host.spec_of(reply["record_id"])
    assert spec.layout is None and spec.auto is None
    assert (spec.width, spec.height, spec.frame_rate, spec.file_type) == (1920, 1080, 30, FileType.MP4)
    assert spec.segment_seconds == 60 * live_server.settings.time_unit_s
    assert spec.timeout_seconds == 600 * live_server.settings.timeout_scale
    assert spec.file_name == "class1"
    assert reply["record_id"] in live_server.host.running()


def test_every_field_is_passed_to_the_recorder(tenant: Tenant, live_server: LiveServer) -> None:
    record_id = tenant.init(
        file_type=1, file_duration=15, width=1280, height=720, record_mode=0, frame_rate=15, timeout=10
    )
    spec = live_server.host.spec_of(record_id)
    assert (spec.file_type, spec.width, spec.height, spec.frame_rate) == (FileType.MP3, 1280, 720, 15)
    assert spec.segment_seconds == 15 * live_server.settings.time_unit_s
    assert spec.timeout_seconds == 10 * live_server.settings.timeout_scale


def test_seq_defaults_to_empty(tenant: Tenant) -> None:
    reply = tenant.call(INIT, group_id="g")
    assert reply["code"] == 0 and reply["seq"] == ""


def test_record_ids_are_unique_and_sortable(tenant: Tenant, live_server: LiveServer) -> None:
    first = tenant.init()
    live_server.clock.advance(1)
    second = tenant.init()
    assert first != second
    assert first[:14] < second[:14]


def test_automatic_task_records_at_once(tenant: Tenant, live_server: LiveServer) -> None:
    record_id = tenant.init(auto={})
    task = tenant.task(record_id)
    assert task["status"] == 2 and task["start_time"] is not None
    spec = live_server.host.spec_of(record_id)
    assert spec.auto is not None
    assert (spec.auto.type, spec.auto.user_id, spec.auto.media_type, spec.auto.media_count) == (1, None, 2, 9)
    assert spec.auto.crop_mode == CropMode.FILL


def test_auto_fields_reach_the_recorder(tenant: Tenant, live_server: LiveServer) -> None:
    # the original's own example sends user_id as a number
    record_id = tenant.init(auto={"type": 2, "user_id": 2, "media_type": 2, "media_count": 4, "crop_mode": 3})
    auto = live_server.host.spec_of(record_id).auto
    assert auto is not None
    assert (auto.type, auto.user_id, auto.media_count, auto.crop_mode) == (2, "2", 4, CropMode.FIT)


def test_null_auto_is_a_manual_task(tenant: Tenant) -> None:
    record_id = tenant.init(auto=None)
    assert tenant.task(record_id)["status"] == 1


# ---- ranges: every edge, in and just out ----------------------------------------------------------

EDGES: list[tuple[str, Any, bool]] = [
    ("file_duration", 14, False),
    ("file_duration", 15, True),
    ("file_duration", 300, True),
    ("file_duration", 301, False),
    ("width", 0, False),
    ("width", 1, True),
    ("width", 1920, True),
    ("width", 1921, False),
    ("height", 0, False),
    ("height", 1, True),
    ("height", 1080, True),
    ("height", 1081, False),
    ("frame_rate", 0, False),
    ("frame_rate", 1, True),
    ("frame_rate", 30, True),
    ("frame_rate", 31, False),
    ("timeout", 4, False),
    ("timeout", 5, True),
    ("timeout", 1800, True),
    ("timeout", 1801, False),
    ("file_type", -1, False),
    ("file_type", 0, True),
    ("file_type", 1, True),
    ("file_type", 2, False),
    ("record_mode", 0, True),
    ("record_mode", 1, True),
    ("record_mode", 2, False),
]


@pytest.mark.parametrize(("field", "value", "ok"), EDGES)
def test_range_edges(tenant: Tenant, live_server: LiveServer, field: str, value: int, ok: bool) -> None:
    reply = tenant.call(INIT, group_id="g", **{field: value})
    if ok:
        assert reply["code"] == 0, reply
        spec = live_server.host.spec_of(reply["record_id"])
        row = tenant.row(reply["record_id"])
        assert getattr(row, field) == value
        assert spec.record_id == reply["record_id"]
    else:
        assert reply["code"] == 6050030003, reply
        assert field in reply["msg"]


AUTO_EDGES: list[tuple[str, Any, bool]] = [
    ("type", 0, False),
    ("type", 1, True),
    ("type", 2, True),
    ("type", 3, False),
    ("media_type", 1, False),
    ("media_type", 2, True),
    ("media_type", 3, False),
    ("media_count", 0, False),
    ("media_count", 1, True),
    ("media_count", 9, True),
    ("media_count", 10, False),
    ("crop_mode", 0, False),
    ("crop_mode", 1, True),
    ("crop_mode", 3, True),
    ("crop_mode", 4, False),
]


@pytest.mark.parametrize(("field", "value", "ok"), AUTO_EDGES)
def test_auto_range_edges(tenant: Tenant, live_server: LiveServer, field: str, value: int, ok: bool) -> None:
    reply = tenant.call(INIT, group_id="g", auto={field: value})
    if ok:
        assert reply["code"] == 0, reply
        auto = live_server.host.spec_of(reply["record_id"]).auto
        assert auto is not None and getattr(auto, field) == value
    else:
        assert reply["code"] == 6050030003, reply
        assert f"auto.{field}" in reply["msg"]


# ---- types ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["15", " 15 ", 15.0, "+15"])
def test_numeric_strings_and_whole_floats_are_integers(tenant: Tenant, value: Any) -> None:
    reply = tenant.call(INIT, group_id="g", file_duration=value)
    assert reply["code"] == 0, reply
    assert tenant.row(reply["record_id"]).file_duration == 15


@pytest.mark.parametrize(
    "value", [True, False, 15.5, "15.5", "abc", "", [15], {"v": 15}, "1e2", "0x10", "9" * 5000, 10**40]
)
def test_wrong_types_and_huge_numbers_are_parameter_errors(tenant: Tenant, value: Any) -> None:
    reply = tenant.call(INIT, group_id="g", file_duration=value)
    assert reply["code"] == 6050030003, reply
    assert "file_duration" in reply["msg"]


def test_json_float_overflow_is_a_wrong_type(tenant: Tenant) -> None:
    body = f'{{"app_id": {json.dumps(tenant.app_id)}, "group_id": "g", "width": 1e400}}'
    reply = tenant.post_raw(INIT, body)
    assert reply["code"] == 6050030003 and "width" in reply["msg"]


def test_deeply_nested_json_is_a_parse_error(tenant: Tenant) -> None:
    body = f'{{"app_id": {json.dumps(tenant.app_id)}, "group_id": "g", "x": {"[" * 100_000}{"]" * 100_000}}}'
    assert tenant.post_raw(INIT, body)["code"] == 6050030005


def test_huge_json_integer_is_out_of_range(tenant: Tenant) -> None:
    body = f'{{"app_id": {json.dumps(tenant.app_id)}, "group_id": "g", "width": {"9" * 5000}}}'
    reply = tenant.post_raw(INIT, body)
    assert reply["code"] == 6050030003 and "width" in reply["msg"]


def test_null_means_the_default(tenant: Tenant) -> None:
    reply = tenant.call(INIT, group_id="g", width=None, frame_rate=None, file_name=None, seq=None)
    assert reply["code"] == 0, reply
    row = tenant.row(reply["record_id"])
    assert (row.width, row.frame_rate, row.file_name) == (1920, 30, reply["record_id"])


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"group_id": 5}, "group_id"),
        ({"group_id": ""}, "group_id"),
        ({"group_id": "g", "seq": 5}, "seq"),
        ({"group_id": "g", "file_name": 5}, "file_name"),
        ({"group_id": "g", "auto": []}, "auto"),
        ({"group_id": "g", "auto": "yes"}, "auto"),
        ({"group_id": "x" * 201}, "group_id"),
        ({"group_id": "g\u0000"}, "group_id"),
        ({"group_id": "g", "auto": {"user_id": True}}, "auto.user_id"),
    ],
)
def test_string_and_object_fields_are_checked(tenant: Tenant, fields: dict[str, Any], field: str) -> None:
    reply = tenant.call(INIT, **fields)
    assert reply["code"] == 6050030003, reply
    assert field in reply["msg"]


@pytest.mark.parametrize("missing", ["app_id", "group_id"])
def test_missing_required_fields(tenant: Tenant, missing: str) -> None:
    body = {"app_id": tenant.app_id, "group_id": "g"}
    del body[missing]
    reply = tenant.post(INIT, body)
    assert reply["code"] == 6050030003
    assert f"{missing} is required" in reply["msg"]


def test_unknown_fields_are_ignored(tenant: Tenant) -> None:
    reply = tenant.call(INIT, group_id="g", colour="blue", nested={"a": [1, 2]})
    assert reply["code"] == 0, reply


def test_lone_surrogates_are_refused(tenant: Tenant) -> None:
    body = f'{{"app_id": {json.dumps(tenant.app_id)}, "group_id": "g\\ud800"}}'
    reply = tenant.post_raw(INIT, body)
    assert reply["code"] == 6050030003 and "group_id" in reply["msg"]


# ---- bodies that are not JSON ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        '{"app_id": "A", "group_id": "g",}',  # trailing comma, as in the original's examples
        '{"app_id": "A", "group_id": "g", "auto": {"type": 1,}}',
        "{not json",
        "",
        "   ",
        '{"app_id": "A", "group_id": "g", "width": NaN}',
        '{"app_id": "A", "group_id": "g", "width": Infinity}',
        "{'app_id': 'A'}",
    ],
)
def test_invalid_json_is_a_parse_error(tenant: Tenant, body: str) -> None:
    reply = tenant.post_raw(INIT, body.replace('"A"', json.dumps(tenant.app_id)))
    assert reply["code"] == 6050030005, reply


def test_body_that_is_not_utf8_is_a_parse_error(tenant: Tenant) -> None:
    body = f'{{"app_id": {json.dumps(tenant.app_id)}, "group_id": "\xff"}}'.encode("latin-1")
    assert tenant.post_raw(INIT, body)["code"] == 6050030005


@pytest.mark.parametrize("body", ["[]", "1", '"text"', "null", "true"])
def test_json_that_is_not_an_object_is_a_parameter_error(tenant: Tenant, body: str) -> None:
    reply = tenant.post_raw(INIT, body)
    assert reply["code"] == 6050030003, reply
    assert "JSON object" in reply["msg"]


@pytest.mark.parametrize("content_type", ["", "text/plain", "application/json;charset=UTF-8"])
def test_json_is_read_whatever_the_content_type(tenant: Tenant, content_type: str) -> None:
    body = json.dumps({"app_id": tenant.app_id, "group_id": "g"})
    r = tenant.client.post(INIT, content=body, headers={"Content-Type": content_type} if content_type else {})
    assert r.json()["code"] == 0, r.text


def test_utf8_bom_is_tolerated(tenant: Tenant) -> None:
    body = "\ufeff" + json.dumps({"app_id": tenant.app_id, "group_id": "g"})
    assert tenant.post_raw(INIT, body.encode())["code"] == 0


def test_body_over_one_megabyte_is_refused(tenant: Tenant) -> None:
    body = json.dumps({"app_id": tenant.app_id, "group_id": "g", "seq": "x" * (1024 * 1024)})
    reply = tenant.post_raw(INIT, body)
    assert reply["code"] == 6050030003 and "larger" in reply["msg"]


# ---- file_name ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("class1", "class1"),
        ("class-1_a.b", "class-1_a.b"),
        ("课堂一", "课堂一"),
        ("会議_회의", "会議_회의"),
        ("../../etc/passwd", "______etc_passwd"),
        ("..", "__"),
        (".hidden", "_hidden"),
        ("a/b\\c:d", "a_b_c_d"),
        ("a b\tc\u0007", "a_b_c_"),
        ("x..y", "x__y"),
        ("café", "caf_"),
    ],
)
def test_file_name_is_sanitised(tenant: Tenant, live_server: LiveServer, given: str, stored: str) -> None:
    record_id = tenant.init(file_name=given)
    assert tenant.row(record_id).file_name == stored
    name = live_server.host.spec_of(record_id).file_name
    assert name == stored
    assert "/" not in name and "\\" not in name and ".." not in name and not name.startswith(".")


def test_file_name_defaults_to_the_record_id(tenant: Tenant) -> None:
    record_id = tenant.init()
    assert tenant.row(record_id).file_name == record_id
    other = tenant.init(file_name="")
    assert tenant.row(other).file_name == other


def test_file_name_too_long(tenant: Tenant) -> None:
    assert tenant.call(INIT, group_id="g", file_name="a" * 200)["code"] == 0
    reply = tenant.call(INIT, group_id="g", file_name="a" * 201)
    assert reply["code"] == 6050030003 and "file_name" in reply["msg"]
    reply = tenant.call(INIT, group_id="g", file_name="课" * 67)  # 201 bytes of UTF-8
    assert reply["code"] == 6050030003 and "file_name" in reply["msg"]


# ---- refusals -------------------------------------------------------------------------------------


def test_second_auto_task_in_a_group_is_refused(tenant: Tenant) -> None:
    first = tenant.init(group_id="room", auto={})
    reply = tenant.call(INIT, group_id="room", auto={"type": 2})
    assert reply["code"] == 6050030038, reply
    assert first in reply["msg"]
    # manual tasks and other groups are not affected
    assert tenant.call(INIT, group_id="room")["code"] == 0
    assert tenant.call(INIT, group_id="other-room", auto={})["code"] == 0
    # once the first one is finished, the group takes a new automatic task
    assert tenant.call("/v1/record/finish", record_id=first)["code"] == 0
    assert tenant.call(INIT, group_id="room", auto={})["code"] == 0


def test_auto_rule_is_per_app(live_server: LiveServer) -> None:
    a, b = live_server.tenant(), live_server.tenant()
    assert a.call(INIT, group_id="shared-name", auto={})["code"] == 0
    assert b.call(INIT, group_id="shared-name", auto={})["code"] == 0


def _task_count(live_server: LiveServer, app_id: str) -> int:
    with live_server.ctx.sessions() as s:
        return len(s.scalars(select(Task.id).where(Task.app_id == app_id)).all())


def test_no_capacity_left(tenant: Tenant, live_server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    running = len(live_server.host.running())
    monkeypatch.setattr(live_server.settings, "max_recordings", running)
    reply = tenant.call(INIT, group_id="g")
    assert reply["code"] == 6050030009, reply
    assert _task_count(live_server, tenant.app_id) == 0
    monkeypatch.setattr(live_server.settings, "max_recordings", running + 1)
    assert tenant.call(INIT, group_id="g")["code"] == 0


def test_capacity_refused_by_the_host_leaves_no_task(tenant: Tenant, live_server: LiveServer) -> None:
    live_server.host.refuse_starts = 1
    reply = tenant.call(INIT, group_id="g", auto={})
    assert reply["code"] == 6050030009, reply
    assert _task_count(live_server, tenant.app_id) == 0
    assert tenant.get("/v1/record/task/list")["total_num"] == 0
    # nothing of it lingers: not even as the group's active automatic task
    assert tenant.call(INIT, group_id="g", auto={})["code"] == 0


def test_not_enough_disk(tenant: Tenant, live_server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live_server.settings, "min_free_disk_mb", 1 << 40)
    reply = tenant.call(INIT, group_id="g")
    assert reply["code"] == 6050030008, reply
    assert _task_count(live_server, tenant.app_id) == 0


def test_unexpected_start_failure_is_an_internal_error(tenant: Tenant, live_server: LiveServer) -> None:
    live_server.host.start_error = OSError("cannot fork")
    reply = tenant.call(INIT, group_id="g")
    assert reply["code"] == 6050030000, reply
    tasks = tenant.get("/v1/record/task/list")["record_list"]
    assert [t["status"] for t in tasks] == [-1]
    assert "OSError" in tenant.row(tasks[0]["record_id"]).error
