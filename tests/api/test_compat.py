"""The vendor's later fields and calls (API.md, "Compatibility"): media_type 4 and the group's whiteboard,
init's company_id / white_board / auto.main_media_type, task/list's extra fields and filters, delete
mode 3, play_url, set-output-overlay, /server/address and CORS. Profile `default` (the shared server)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from api.harness import LiveServer, ServerFactory, Tenant, contract_json
from cloudrec.db.models import File, Task
from cloudrec.recorder.build import build_spec
from cloudrec.recorder.spec import Caption, Layout, MediaType, SetCaptions, SetLayout, VideoTile
from cloudrec.storage.local import LocalStorage

INIT = "/v1/record/init"
LAYOUT = "/v1/record/set/layout"
OVERLAY = "/v1/record/set-output-overlay"
LIST = "/v1/record/task/list"
DELETE = "/v1/record/file"
URLS = "/v1/record/file/download/url"
PUBLISH = "/v1/group/stream/publish"
UNPUBLISH = "/v1/group/stream/unpublish"
STREAMS = "/v1/group/stream/list"
URL = "rtmp://127.0.0.1:1/live/x"  # never pulled: these tests record nothing


def _refused(reply: dict[str, Any], field: str) -> None:
    assert reply["code"] == 6050030003, reply
    assert field in reply["msg"], reply


# ---- media_type 4 and the group's whiteboard --------------------------------------------------------


def test_media_type_4_is_the_whiteboard_everywhere(tenant: Tenant, live_server: LiveServer) -> None:
    assert tenant.call(PUBLISH, group_id="g", user_id=7, media_type=4, media_id=1, url=URL)["code"] == 0
    # 3 names the same stream: publishing it again is no new stream, unpublishing it removes it
    assert tenant.call(PUBLISH, group_id="g", user_id=7, media_type=3, media_id=1, url=URL)["code"] == 0
    listed = tenant.get(STREAMS, group_id="g")["stream_list"]
    assert [(s["user_id"], s["media_type"], s["media_id"]) for s in listed] == [("7", 3, "1")]
    record_id = tenant.init()
    tile = {"user_id": 7, "media_id": 1, "media_type": 4, "x": 10, "w": 100, "h": 50}
    assert tenant.call(LAYOUT, record_id=record_id, video_list=[tile])["code"] == 0
    (layout,) = [c.layout for c in live_server.host.commands_of(record_id) if isinstance(c, SetLayout)]
    assert layout == Layout(video=(VideoTile("7", "1", MediaType.WHITEBOARD, 10, 0, 100, 50),))
    assert MediaType(4) is MediaType.WHITEBOARD
    assert tenant.call(UNPUBLISH, group_id="g", user_id="7", media_type=4, media_id="1")["code"] == 0
    assert tenant.get(STREAMS, group_id="g")["total_num"] == 0


def test_the_group_whiteboard_is_published_and_placed_without_a_user(
    tenant: Tenant, live_server: LiveServer
) -> None:
    reply = tenant.call(PUBLISH, group_id="g", user_id="", media_type=4, media_id="whiteboard2", url=URL)
    assert reply["code"] == 0, reply
    (stream,) = tenant.get(STREAMS, group_id="g")["stream_list"]
    assert (stream["user_id"], stream["media_type"], stream["media_id"]) == ("", 3, "whiteboard2")
    record_id = tenant.init(group_id="g")
    tile = {"user_id": "", "media_id": "whiteboard2", "media_type": 4, "w": 640, "h": 360}
    assert tenant.call(LAYOUT, record_id=record_id, video_list=[tile])["code"] == 0
    (layout,) = [c.layout for c in live_server.host.commands_of(record_id) if isinstance(c, SetLayout)]
    assert layout.video == (VideoTile("", "whiteboard2", MediaType.WHITEBOARD, 0, 0, 640, 360),)
    assert tenant.call(UNPUBLISH, group_id="g", user_id="", media_type=3, media_id="whiteboard2")["code"] == 0


@pytest.mark.parametrize("media_type", [0, 1, 2])
def test_only_a_whiteboard_is_without_a_user(tenant: Tenant, media_type: int) -> None:
    reply = tenant.call(PUBLISH, group_id="g", user_id="", media_type=media_type, media_id="0", url=URL)
    _refused(reply, "user_id must not be empty")
    reply = tenant.call(UNPUBLISH, group_id="g", user_id="", media_type=media_type, media_id="0")
    _refused(reply, "user_id")
    if media_type != 1:
        record_id = tenant.init()
        tile = {"user_id": "", "media_id": "0", "media_type": media_type}
        _refused(tenant.call(LAYOUT, record_id=record_id, video_list=[tile]), "video_list[0].user_id")


@pytest.mark.parametrize("media_type", [-1, 5, 1, "4.5", True])
def test_video_media_type_edges(tenant: Tenant, media_type: Any) -> None:
    record_id = tenant.init()
    tile = {"user_id": "u", "media_id": "0", "media_type": media_type}
    _refused(tenant.call(LAYOUT, record_id=record_id, video_list=[tile]), "video_list[0].media_type")


# ---- init: company_id, white_board, auto.main_media_type ------------------------------------------


def test_init_takes_the_vendor_fields(tenant: Tenant, live_server: LiveServer) -> None:
    record_id = tenant.init(
        company_id="acme-1", white_board=1, auto={"type": 2, "user_id": 5, "main_media_type": 4}
    )
    spec = live_server.host.spec_of(record_id)
    assert spec.auto is not None
    assert (spec.auto.white_board, spec.auto.main_media_type, spec.auto.user_id) == (
        True,
        MediaType.WHITEBOARD,
        "5",
    )
    assert tenant.task(record_id)["company_id"] == "acme-1"
    # the defaults: no company, no group whiteboard, the priority order for the main tile
    record_id = tenant.init(auto={"type": 2})
    spec = live_server.host.spec_of(record_id)
    assert spec.auto is not None and (spec.auto.white_board, spec.auto.main_media_type) == (False, None)
    assert tenant.task(record_id)["company_id"] == ""
    # a numeric company id is kept as its text; 3 is the whiteboard too
    record_id = tenant.init(company_id=42, auto={"type": 2, "main_media_type": "3"})
    spec = live_server.host.spec_of(record_id)
    assert spec.auto is not None and spec.auto.main_media_type == MediaType.WHITEBOARD
    assert tenant.task(record_id)["company_id"] == "42"


@pytest.mark.parametrize(
    ("fields", "ok"),
    [
        ({"white_board": 0}, True),
        ({"white_board": 1}, True),
        ({"white_board": "1"}, True),
        ({"white_board": -1}, False),
        ({"white_board": 2}, False),
        ({"white_board": True}, False),
        ({"white_board": "yes"}, False),
        ({"white_board": [1]}, False),
        ({"company_id": ""}, True),
        ({"company_id": "c" * 200}, True),
        ({"company_id": "c" * 201}, False),
        ({"company_id": True}, False),
        ({"company_id": {"id": 1}}, False),
        ({"company_id": "a\x00b"}, False),
    ],
)
def test_init_field_edges(tenant: Tenant, fields: dict[str, Any], ok: bool) -> None:
    reply = tenant.call(INIT, group_id="g-" + str(id(fields)), **fields)
    if ok:
        assert reply["code"] == 0, reply
    else:
        (field,) = fields
        _refused(reply, field)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (0, True),
        (2, True),
        (3, True),
        (4, True),
        (-1, False),
        (1, False),
        (5, False),
        (True, False),
        ("x", False),
    ],
)
def test_main_media_type_edges(tenant: Tenant, live_server: LiveServer, value: Any, ok: bool) -> None:
    reply = tenant.call(INIT, group_id="g-" + str(id(value)), auto={"type": 2, "main_media_type": value})
    if ok:
        assert reply["code"] == 0, reply
        spec = live_server.host.spec_of(reply["record_id"])
        assert spec.auto is not None and spec.auto.main_media_type == MediaType(int(value))
    else:
        _refused(reply, "auto.main_media_type")


def test_record_mode_1_is_the_vendors_per_stream_recording(tenant: Tenant) -> None:
    reply = tenant.call(INIT, group_id="g", record_mode=1)
    assert reply["code"] == 0, reply
    assert tenant.task(reply["record_id"])["record_mode"] == 1
    _refused(tenant.call(INIT, group_id="g", record_mode=2), "record_mode")


# ---- task/list -----------------------------------------------------------------------------------


def test_list_carries_the_vendor_fields(tenant: Tenant) -> None:
    manual = tenant.start_manual(file_name="class1", company_id="c1", width=640, height=360)
    tenant.set_row(manual, media_duration=12.6)
    auto = tenant.init(auto={}, width=1280, height=720)
    items = {t["record_id"]: t for t in tenant.get(LIST)["record_list"]}
    got = {k: items[manual][k] for k in ("file_name", "company_id", "record_time", "width", "height", "auto")}
    assert got == {
        "file_name": "class1",
        "company_id": "c1",
        "record_time": 13,
        "width": 640,
        "height": 360,
        "auto": 0,
    }
    assert (items[auto]["auto"], items[auto]["width"], items[auto]["height"]) == (1, 1280, 720)
    assert items[auto]["file_name"] == auto  # default: the record_id


def test_status_filters_0_and_7(tenant: Tenant) -> None:
    seeded = {s: tenant.seed_task(s) for s in (-1, 1, 3, 6)}
    recording = tenant.start_manual()
    suspended = tenant.start_manual()
    assert tenant.call("/v1/record/suspend", record_id=suspended)["code"] == 0
    every = [t["record_id"] for t in tenant.get(LIST, status=0)["record_list"]]
    assert sorted(every) == sorted([*seeded.values(), recording, suspended])
    paused = tenant.get(LIST, status=7)["record_list"]
    assert [(t["record_id"], t["status"], t["paused"]) for t in paused] == [(suspended, 2, True)]
    # profile default: a suspended task is still recording (2)
    assert {t["record_id"] for t in tenant.get(LIST, status=2)["record_list"]} == {recording, suspended}


# ---- delete mode 3, play_url ------------------------------------------------------------------


def test_mode_3_deletes_the_records_and_keeps_the_files(tenant: Tenant, live_server: LiveServer) -> None:
    record_id = tenant.finished()
    contents = tenant.add_segments(record_id, 2)
    storage = live_server.ctx.storage
    assert isinstance(storage, LocalStorage)
    with live_server.ctx.sessions() as s:
        task_id = s.scalar(select(Task.id).where(Task.record_id == record_id))
        keys = s.scalars(select(File.storage_key).where(File.task_id == task_id).order_by(File.index)).all()
    reply = tenant.call(DELETE, mode="3", record_list=[record_id, "unknown"])
    assert reply == {"code": 0, "msg": "ok"}
    assert tenant.get(LIST, record_id=record_id)["total_num"] == 0
    assert tenant.get(URLS, record_id=record_id)["code"] == 6050030001
    with live_server.ctx.sessions() as s:
        assert s.scalars(select(File).where(File.task_id == task_id)).all() == []
    assert [storage.path(k).read_bytes() for k in keys] == contents  # the stored files stay


def test_mode_3_never_touches_an_unfinished_task(tenant: Tenant) -> None:
    record_id = tenant.start_manual()
    _refused(tenant.call(DELETE, mode=3, record_list=[record_id]), record_id)
    assert tenant.task(record_id)["status"] == 2


def test_play_url_plays_in_a_browser(tenant: Tenant, live_server: LiveServer) -> None:
    record_id = tenant.finished()
    (data,) = tenant.add_segments(record_id, 1, size=5000)
    (item,) = tenant.get(URLS, record_id=record_id)["data_list"]
    assert item["play_url"].startswith(live_server.settings.base_url + "/download/")
    r = httpx.get(item["play_url"])
    assert r.status_code == 200 and r.content == data
    assert r.headers["content-type"] == "video/mp4"
    assert r.headers["content-disposition"].startswith("inline")
    r = httpx.get(item["play_url"], headers={"Range": "bytes=10-19"})
    assert r.status_code == 206 and r.content == data[10:20]
    tampered = item["play_url"].replace("sig=", "sig=0")
    assert httpx.get(tampered).status_code == 403


# ---- set-output-overlay ---------------------------------------------------------------------------


def _last_captions(live_server: LiveServer, record_id: str) -> tuple[Caption, ...]:
    sent = [c.captions for c in live_server.host.commands_of(record_id) if isinstance(c, SetCaptions)]
    assert sent, "no captions reached the recorder"
    return sent[-1]


def test_overlay_defaults_and_forms(tenant: Tenant, live_server: LiveServer) -> None:
    record_id = tenant.start_manual()
    subtitles = [
        {"content": "第一课"},
        {"type": 2, "x": "100", "y": 50, "color": 0xFF8000, "size": 200, "transparency": 50},
        {"type": 1, "content": "B", "color": "#00ff00", "x": 1920, "y": 1080, "size": 1, "transparency": 0},
        {"content": "C", "color": "16711680"},
    ]
    reply = tenant.call(OVERLAY, record_id=record_id, seq="o1", subtitle_list=subtitles, logo_list=[])
    assert reply == {"code": 0, "msg": "OK", "seq": "o1", "record_id": record_id}
    tz = live_server.settings.timezone
    assert _last_captions(live_server, record_id) == (
        Caption("第一课", "#000000", 0, 0, 30, 100, False, tz),
        Caption("", "#FF8000", 100, 50, 200, 50, True, tz),
        Caption("B", "#00FF00", 1920, 1080, 1, 0, False, tz),
        Caption("C", "#FF0000", 0, 0, 30, 100, False, tz),
    )
    # stored: a new recorder of the task (a restart) starts with them
    assert build_spec(tenant.row(record_id), (), live_server.settings).captions == _last_captions(
        live_server, record_id
    )
    assert tenant.call(OVERLAY, record_id=record_id, subtitle_list=[])["code"] == 0
    assert _last_captions(live_server, record_id) == ()
    assert tenant.call(OVERLAY, record_id=record_id)["code"] == 0  # no list at all: none either


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"type": 0, "content": "a"}, "subtitle_list[0].type"),
        ({"type": 3, "content": "a"}, "subtitle_list[0].type"),
        ({"type": True, "content": "a"}, "subtitle_list[0].type"),
        ({"content": ""}, "subtitle_list[0].content"),
        ({"type": 1}, "subtitle_list[0].content"),
        ({"content": "x" * 257}, "subtitle_list[0].content"),
        ({"content": 5}, "subtitle_list[0].content"),
        ({"content": "a", "x": -1}, "subtitle_list[0].x"),
        ({"content": "a", "x": 1921}, "subtitle_list[0].x"),
        ({"content": "a", "y": -1}, "subtitle_list[0].y"),
        ({"content": "a", "y": 1081}, "subtitle_list[0].y"),
        ({"content": "a", "x": 1.5}, "subtitle_list[0].x"),
        ({"content": "a", "size": 0}, "subtitle_list[0].size"),
        ({"content": "a", "size": 201}, "subtitle_list[0].size"),
        ({"content": "a", "transparency": -1}, "subtitle_list[0].transparency"),
        ({"content": "a", "transparency": 101}, "subtitle_list[0].transparency"),
        ({"content": "a", "transparency": "half"}, "subtitle_list[0].transparency"),
        ({"content": "a", "color": -1}, "subtitle_list[0].color"),
        ({"content": "a", "color": 0x1000000}, "subtitle_list[0].color"),
        ({"content": "a", "color": "#12345"}, "subtitle_list[0].color"),
        ({"content": "a", "color": "red"}, "subtitle_list[0].color"),
        ({"content": "a", "color": True}, "subtitle_list[0].color"),
        ({"content": "a", "color": [255]}, "subtitle_list[0].color"),
    ],
)
def test_overlay_field_edges(tenant: Tenant, item: dict[str, Any], field: str) -> None:
    record_id = tenant.start_manual()
    _refused(tenant.call(OVERLAY, record_id=record_id, subtitle_list=[item]), field)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"logo_list": [{"path": "/etc/passwd", "x": 0, "y": 0}]}, "logo_list"),
        ({"logo_list": "logo.png"}, "logo_list"),
        ({"subtitle_list": {"content": "a"}}, "subtitle_list"),
        ({"subtitle_list": [{"content": "a"}] * 33}, "subtitle_list"),
    ],
)
def test_overlay_refusals(
    tenant: Tenant, live_server: LiveServer, fields: dict[str, Any], field: str
) -> None:
    record_id = tenant.start_manual()
    _refused(tenant.call(OVERLAY, record_id=record_id, **fields), field)
    assert not [c for c in live_server.host.commands_of(record_id) if isinstance(c, SetCaptions)]


def test_overlay_task_states(tenant: Tenant) -> None:
    assert tenant.call(OVERLAY, record_id="nope", subtitle_list=[])["code"] == 6050030001
    record_id = tenant.start_manual()
    assert tenant.call("/v1/record/suspend", record_id=record_id)["code"] == 0
    reply = tenant.call(OVERLAY, record_id=record_id, subtitle_list=[{"content": "a"}])
    assert reply["code"] == 6050030033, reply
    auto = tenant.init(auto={})  # automatic tasks take captions too
    assert tenant.call(OVERLAY, record_id=auto, subtitle_list=[{"type": 2}])["code"] == 0


# ---- /server/address and CORS ------------------------------------------------------------------------


@pytest.mark.parametrize("app_type", [10, 8, "10"])
def test_server_address(live_server: LiveServer, app_type: Any) -> None:
    with live_server.http() as c:
        r = c.get("/server/address", params={"appType": app_type})
    assert r.status_code == 200
    assert r.json() == {"code": 0, "message": "OK", "msg": "OK", "result": live_server.settings.base_url}


@pytest.mark.parametrize("params", [{}, {"appType": 9}, {"appType": "x"}, {"appType": ""}])
def test_server_address_refusals(live_server: LiveServer, params: dict[str, Any]) -> None:
    with live_server.http() as c:
        reply = contract_json(c.get("/server/address", params=params))
    _refused(reply, "appType")


def test_cors_grants_the_listed_origins_only(server_factory: ServerFactory) -> None:
    allowed = "https://app.example.com"
    server = server_factory(cors_origins=f"{allowed}, http://127.0.0.1:9")
    tenant = server.tenant()
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    with server.http() as c:
        r = c.options(INIT, headers={"Origin": allowed, **preflight})
        assert r.status_code == 200, r.text
        assert r.headers["access-control-allow-origin"] == allowed
        granted = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
        assert {"authorization", "content-type"} <= granted
        assert "POST" in r.headers["access-control-allow-methods"]
        # the call itself: a business error stays HTTP 200, with the grant
        r = c.post(
            INIT,
            json={"app_id": tenant.app_id},
            headers={"Origin": allowed, "Authorization": tenant.access_token},
        )
        assert r.status_code == 200 and r.json()["code"] == 6050030003
        assert r.headers["access-control-allow-origin"] == allowed
        r = c.get("/server/address?appType=10", headers={"Origin": allowed})
        assert r.headers["access-control-allow-origin"] == allowed
        # any other origin gets no grant, preflight or not
        other = "https://evil.example.net"
        r = c.options(INIT, headers={"Origin": other, **preflight})
        assert "access-control-allow-origin" not in r.headers
        r = c.post(
            INIT,
            json={"app_id": tenant.app_id},
            headers={"Origin": other, "Authorization": tenant.access_token},
        )
        assert "access-control-allow-origin" not in r.headers
    server.finish_recordings()


def test_no_cors_by_default(live_server: LiveServer) -> None:
    headers = {"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"}
    with live_server.http() as c:
        r = c.options(INIT, headers=headers)
        assert "access-control-allow-origin" not in r.headers
        assert "access-control-allow-origin" not in c.get(LIST, headers={"Origin": headers["Origin"]}).headers


# ---- OpenAPI -------------------------------------------------------------------------------------


def test_openapi_describes_the_vendor_fields(live_server: LiveServer) -> None:
    with live_server.http() as c:
        spec = c.get("/openapi.json").json()
    schemas, paths = spec["components"]["schemas"], spec["paths"]
    overlay = schemas["OverlayRequest"]["properties"]
    assert {"subtitle_list", "logo_list", "app_id", "record_id"} <= set(overlay)
    item = schemas["OverlaySubtitle"]["properties"]
    assert (item["size"]["minimum"], item["size"]["maximum"], item["size"]["default"]) == (1, 200, 30)
    assert (item["transparency"]["minimum"], item["transparency"]["maximum"]) == (0, 100)
    assert item["transparency"]["default"] == 100 and item["type"]["default"] == 1
    assert {"type": "integer", "minimum": 0, "maximum": 0xFFFFFF} in item["color"]["anyOf"]
    body = paths[OVERLAY]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body == "#/components/schemas/OverlayRequest"
    init = schemas["InitRequest"]["properties"]
    assert init["white_board"]["enum"] == [0, 1] and "company_id" in init
    auto = schemas["AutoRequest"]["properties"]["main_media_type"]
    assert [0, 2, 3, 4] in [a.get("enum") for a in auto["anyOf"]]
    assert schemas["VideoItem"]["properties"]["media_type"]["enum"] == [0, 2, 3, 4]
    assert schemas["DeleteRequest"]["properties"]["mode"]["enum"] == [1, 2, 3]
    listed = schemas["TaskItem"]["properties"]
    assert {"file_name", "company_id", "record_time", "width", "height", "auto"} <= set(listed)
    assert "play_url" in schemas["FileItem"]["properties"]
    params = {p["name"]: p for p in paths["/server/address"]["get"]["parameters"]}
    assert params["appType"]["required"] is True
    status = {p["name"]: p for p in paths[LIST]["get"]["parameters"]}["status"]
    assert [-1, 0, 1, 2, 3, 4, 5, 6, 7] in [a.get("enum") for a in status["schema"]["anyOf"]]
