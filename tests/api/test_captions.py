"""POST /v1/record/set/subtitle and `auto.caption`: what the recorder gets, range edges, refusals."""

from __future__ import annotations

import json
from typing import Any

import pytest

from api.harness import LiveServer, Tenant
from cloudrec.recorder.build import build_spec
from cloudrec.recorder.spec import Caption, SetCaptions

SUBTITLE = "/v1/record/set/subtitle"
ITEM: dict[str, Any] = {"content": "张三 Zhang", "color": "#FF8000", "x": 10, "y": 20}


def _last_captions(live_server: LiveServer, record_id: str) -> tuple[Caption, ...]:
    sent = [c.captions for c in live_server.host.commands_of(record_id) if isinstance(c, SetCaptions)]
    assert sent, "no captions reached the recorder"
    return sent[-1]


def test_captions_reach_the_recorder_and_are_stored(tenant: Tenant, live_server: LiveServer) -> None:
    record_id = tenant.start_manual()
    reply = tenant.call(
        SUBTITLE,
        record_id=record_id,
        seq="S1",
        subtitle_list=[ITEM, {"content": "李四", "color": "#00ff00", "x": "1920", "y": 1080, "size": 48}],
    )
    assert reply == {"code": 0, "msg": "OK", "seq": "S1", "record_id": record_id}
    expected = (Caption("张三 Zhang", "#FF8000", 10, 20, 24), Caption("李四", "#00FF00", 1920, 1080, 48))
    assert _last_captions(live_server, record_id) == expected
    assert all(delivered for rid, _, delivered in live_server.host.commands if rid == record_id)
    row = tenant.row(record_id)
    assert row.captions == [
        {"content": "张三 Zhang", "color": "#FF8000", "x": 10, "y": 20, "size": 24},
        {"content": "李四", "color": "#00FF00", "x": 1920, "y": 1080, "size": 48},
    ]
    # a new recorder of the task (a restart) starts with them
    assert build_spec(row, (), live_server.settings).captions == expected
    assert tenant.task(record_id)["status"] == 2


def test_empty_list_clears_the_captions(tenant: Tenant, live_server: LiveServer) -> None:
    record_id = tenant.start_manual()
    assert tenant.call(SUBTITLE, record_id=record_id, subtitle_list=[ITEM])["code"] == 0
    assert tenant.call(SUBTITLE, record_id=record_id, subtitle_list=[])["code"] == 0
    assert _last_captions(live_server, record_id) == ()
    assert tenant.row(record_id).captions == []
    assert build_spec(tenant.row(record_id), (), live_server.settings).captions == ()


def test_a_new_task_has_no_captions(tenant: Tenant, live_server: LiveServer) -> None:
    record_id = tenant.init()
    assert live_server.host.spec_of(record_id).captions == ()


def test_initialised_task_takes_captions_and_stays_initialised(
    tenant: Tenant, live_server: LiveServer
) -> None:
    record_id = tenant.init()
    assert tenant.call(SUBTITLE, record_id=record_id, subtitle_list=[ITEM])["code"] == 0
    assert tenant.task(record_id)["status"] == 1  # only a layout starts a manual recording
    assert len(_last_captions(live_server, record_id)) == 1


def test_automatic_task_takes_captions(tenant: Tenant, live_server: LiveServer) -> None:
    record_id = tenant.init(auto={})
    assert tenant.call(SUBTITLE, record_id=record_id, subtitle_list=[ITEM])["code"] == 0
    assert len(_last_captions(live_server, record_id)) == 1


EDGES: list[tuple[str, Any, bool]] = [
    ("x", -1, False),
    ("x", 0, True),
    ("x", 1920, True),
    ("x", 1921, False),
    ("y", -1, False),
    ("y", 0, True),
    ("y", 1080, True),
    ("y", 1081, False),
    ("size", 7, False),
    ("size", 8, True),
    ("size", 200, True),
    ("size", 201, False),
    ("content", "", False),
    ("content", "a", True),
    ("content", "字" * 256, True),
    ("content", "字" * 257, False),
    ("color", "#000000", True),
    ("color", "#ffffff", True),
    ("color", "#FFFFFF", True),
    ("color", "#FFF", False),
    ("color", "FF0000", False),
    ("color", "#FF00001", False),
    ("color", "#GG0000", False),
    ("color", "red", False),
    ("color", "", False),
]


@pytest.mark.parametrize(("field", "value", "ok"), EDGES)
def test_item_range_edges(tenant: Tenant, live_server: LiveServer, field: str, value: Any, ok: bool) -> None:
    record_id = tenant.start_manual()
    reply = tenant.call(SUBTITLE, record_id=record_id, subtitle_list=[{**ITEM, field: value}])
    if ok:
        assert reply["code"] == 0, reply
        got = getattr(_last_captions(live_server, record_id)[0], field)
        assert got == (value.upper() if field == "color" else value)
    else:
        assert reply["code"] == 6050030003, reply
        assert f"subtitle_list[0].{field}" in reply["msg"], reply
        assert not [c for c in live_server.host.commands_of(record_id) if isinstance(c, SetCaptions)]
        assert tenant.row(record_id).captions is None


def test_size_default(tenant: Tenant, live_server: LiveServer) -> None:
    record_id = tenant.start_manual()
    tenant.call(SUBTITLE, record_id=record_id, subtitle_list=[ITEM])
    assert _last_captions(live_server, record_id)[0].size == 24


def test_list_length_limit(tenant: Tenant) -> None:
    record_id = tenant.start_manual()
    assert tenant.call(SUBTITLE, record_id=record_id, subtitle_list=[ITEM] * 32)["code"] == 0
    reply = tenant.call(SUBTITLE, record_id=record_id, subtitle_list=[ITEM] * 33)
    assert reply["code"] == 6050030003 and "subtitle_list" in reply["msg"], reply


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({}, "subtitle_list"),
        ({"subtitle_list": "text"}, "subtitle_list"),
        ({"subtitle_list": {"content": "a"}}, "subtitle_list"),
        ({"subtitle_list": ["text"]}, "subtitle_list[0]"),
        ({"subtitle_list": [{**ITEM, "content": 5}]}, "subtitle_list[0].content"),
        ({"subtitle_list": [{**ITEM, "content": ["a"]}]}, "subtitle_list[0].content"),
        ({"subtitle_list": [{**ITEM, "color": 0xFF0000}]}, "subtitle_list[0].color"),
        ({"subtitle_list": [{**ITEM, "x": 1.5}]}, "subtitle_list[0].x"),
        ({"subtitle_list": [{**ITEM, "y": True}]}, "subtitle_list[0].y"),
        ({"subtitle_list": [{**ITEM, "size": "big"}]}, "subtitle_list[0].size"),
        ({"subtitle_list": [{k: v for k, v in ITEM.items() if k != "content"}]}, "subtitle_list[0].content"),
        ({"subtitle_list": [{k: v for k, v in ITEM.items() if k != "color"}]}, "subtitle_list[0].color"),
        ({"subtitle_list": [{k: v for k, v in ITEM.items() if k != "x"}]}, "subtitle_list[0].x"),
        ({"subtitle_list": [{k: v for k, v in ITEM.items() if k != "y"}]}, "subtitle_list[0].y"),
        ({"subtitle_list": [ITEM, {**ITEM, "color": "#12345"}]}, "subtitle_list[1].color"),
        ({"subtitle_list": [{**ITEM, "content": "a\x00b"}]}, "subtitle_list[0].content"),
        ({"subtitle_list": [], "seq": 1}, "seq"),
    ],
)
def test_malformed_requests(
    tenant: Tenant, live_server: LiveServer, fields: dict[str, Any], field: str
) -> None:
    record_id = tenant.start_manual()
    reply = tenant.call(SUBTITLE, record_id=record_id, **fields)
    assert reply["code"] == 6050030003, reply
    assert field in reply["msg"], reply
    assert not [c for c in live_server.host.commands_of(record_id) if isinstance(c, SetCaptions)]


def test_missing_record_id(tenant: Tenant) -> None:
    reply = tenant.call(SUBTITLE, subtitle_list=[])
    assert reply["code"] == 6050030003 and "record_id is required" in reply["msg"], reply


def test_invalid_json(tenant: Tenant) -> None:
    record_id = tenant.start_manual()
    head = json.dumps({"app_id": tenant.app_id, "record_id": record_id})[:-1]
    body = head + ', "subtitle_list": [{"content": "a", "color": "#FFFFFF", "x": 0, "y": 0},]}'
    assert tenant.post_raw(SUBTITLE, body)["code"] == 6050030005


# ---- task states ----------------------------------------------------------------------------------


def test_suspended_task_takes_no_captions(tenant: Tenant, live_server: LiveServer) -> None:
    record_id = tenant.start_manual()
    assert tenant.call("/v1/record/suspend", record_id=record_id)["code"] == 0
    assert tenant.call(SUBTITLE, record_id=record_id, subtitle_list=[ITEM])["code"] == 6050030033
    assert tenant.row(record_id).captions is None
    assert tenant.call("/v1/record/resume", record_id=record_id)["code"] == 0
    assert tenant.call(SUBTITLE, record_id=record_id, subtitle_list=[ITEM])["code"] == 0


def test_finished_task_takes_no_captions(tenant: Tenant, live_server: LiveServer) -> None:
    record_id = tenant.start_manual()
    assert tenant.call("/v1/record/finish", record_id=record_id)["code"] == 0
    reply = tenant.call(SUBTITLE, record_id=record_id, subtitle_list=[ITEM])
    assert reply["code"] == 6050030001, reply
    assert not [c for c in live_server.host.commands_of(record_id) if isinstance(c, SetCaptions)]


def test_unknown_task(tenant: Tenant) -> None:
    reply = tenant.call(SUBTITLE, record_id="20200101000000_0000000000000000", subtitle_list=[])
    assert reply["code"] == 6050030001, reply


def test_another_developers_task_is_out_of_reach(tenant: Tenant, live_server: LiveServer) -> None:
    record_id = tenant.start_manual()
    other = live_server.tenant()
    # with the other developer's own app: the task does not exist there
    reply = other.call(SUBTITLE, record_id=record_id, subtitle_list=[ITEM])
    assert reply["code"] == 6050030001, reply
    # naming the owner's app with the other developer's token: not authorised
    reply = other.call(SUBTITLE, app_id=tenant.app_id, record_id=record_id, subtitle_list=[ITEM])
    assert reply["code"] == 6050030007, reply
    assert tenant.row(record_id).captions is None
    assert not [c for c in live_server.host.commands_of(record_id) if isinstance(c, SetCaptions)]


def test_no_access_token(tenant: Tenant, live_server: LiveServer) -> None:
    record_id = tenant.start_manual()
    with live_server.http() as client:
        r = client.post(SUBTITLE, json={"app_id": tenant.app_id, "record_id": record_id, "subtitle_list": []})
    assert r.json()["code"] == 6050030006
    assert not [c for c in live_server.host.commands_of(record_id) if isinstance(c, SetCaptions)]


# ---- auto.caption ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "ok", "expected"),
    [
        (0, True, False),
        (1, True, True),
        ("1", True, True),
        (2, False, None),
        (-1, False, None),
        (True, False, None),
        ("yes", False, None),
    ],
)
def test_auto_caption(
    tenant: Tenant, live_server: LiveServer, value: Any, ok: bool, expected: bool | None
) -> None:
    reply = tenant.call("/v1/record/init", group_id="g-cap", auto={"caption": value})
    if ok:
        assert reply["code"] == 0, reply
        auto = live_server.host.spec_of(reply["record_id"]).auto
        assert auto is not None and auto.caption is expected
        stored = build_spec(tenant.row(reply["record_id"]), (), live_server.settings).auto
        assert stored is not None and stored.caption is expected
    else:
        assert reply["code"] == 6050030003, reply
        assert "auto.caption" in reply["msg"], reply


def test_auto_caption_defaults_to_off(tenant: Tenant, live_server: LiveServer) -> None:
    record_id = tenant.init(auto={})
    auto = live_server.host.spec_of(record_id).auto
    assert auto is not None and auto.caption is False
