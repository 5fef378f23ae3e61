"""Request size limits (issue 16): tiles, audio entries, captions, string lengths, ASCII digits, depth."""

from __future__ import annotations

from typing import Any

import pytest

from api.harness import LIVE_SERVER_SETTINGS, ServerFactory, Tenant
from cloudrec.limits import MAX_SEQ_CHARS, PROFILE_LIMITS

LAYOUT = "/v1/record/set/layout"
SUBTITLE = "/v1/record/set/subtitle"
DELETE = "/v1/record/file"


def _tiles(n: int) -> list[dict[str, Any]]:
    return [{"user_id": f"u{i}", "media_id": 0, "media_type": 2, "w": 1920, "h": 1080} for i in range(n)]


def _audio(n: int) -> list[dict[str, Any]]:
    return [{"user_id": f"u{i}", "media_id": 1, "media_type": 1} for i in range(n)]


def _refused(reply: dict[str, Any], field: str, code: int = 6050030003) -> None:
    assert reply["code"] == code, reply
    assert field in reply["msg"], reply


def test_layout_at_most_25_tiles_and_25_audio_entries(tenant: Tenant) -> None:
    record_id = tenant.init()
    limits = PROFILE_LIMITS["default"]
    assert (limits.video, limits.audio) == (25, 25)
    _refused(tenant.call(LAYOUT, record_id=record_id, video_list=_tiles(26)), "video_list")
    _refused(tenant.call(LAYOUT, record_id=record_id, audio_list=_audio(26)), "audio_list")
    # the 2,000-tile layout of the report: refused, the task is untouched
    _refused(tenant.call(LAYOUT, record_id=record_id, video_list=_tiles(2000)), "video_list")
    assert tenant.task(record_id)["status"] == 1
    reply = tenant.call(LAYOUT, record_id=record_id, video_list=_tiles(25), audio_list=_audio(25))
    assert reply["code"] == 0, reply


def test_hst_profile_allows_16_tiles_and_10_audio_entries(server_factory: ServerFactory) -> None:
    server = server_factory(**LIVE_SERVER_SETTINGS, compat="hst")
    tenant = server.tenant()
    record_id = tenant.init()
    reply = tenant.call(LAYOUT, record_id=record_id, video_list=_tiles(17))
    _refused(reply, "video_list", 605030003)
    assert "at most 16" in reply["msg"], reply
    _refused(tenant.call(LAYOUT, record_id=record_id, audio_list=_audio(11)), "audio_list", 605030003)
    assert tenant.call(LAYOUT, record_id=record_id, video_list=_tiles(16), audio_list=_audio(10))["code"] == 0
    server.finish_recordings()


def test_captions_are_bounded(tenant: Tenant) -> None:
    record_id = tenant.start_manual()
    caption = {"content": "hi", "color": "#FFFFFF", "x": 0, "y": 0}
    most = PROFILE_LIMITS["default"].captions
    _refused(
        tenant.call(SUBTITLE, record_id=record_id, subtitle_list=[caption] * (most + 1)), "subtitle_list"
    )
    assert tenant.call(SUBTITLE, record_id=record_id, subtitle_list=[caption] * most)["code"] == 0


def test_seq_has_a_maximum_length(tenant: Tenant) -> None:
    _refused(tenant.call("/v1/record/init", group_id="g", seq="s" * (MAX_SEQ_CHARS + 1)), "seq")
    _refused(tenant.call("/v1/record/init", group_id="g", seq="s" * 500_000), "seq")
    record_id = tenant.init(seq="s" * MAX_SEQ_CHARS)
    _refused(tenant.call(LAYOUT, record_id=record_id, seq="s" * (MAX_SEQ_CHARS + 1)), "seq")
    reply = tenant.call(LAYOUT, record_id=record_id, seq="s" * MAX_SEQ_CHARS)
    assert reply["code"] == 0 and reply["seq"] == "s" * MAX_SEQ_CHARS


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("width", "١٠٠"),  # Arabic-Indic digits: int() would read 100
        ("height", "१००"),  # Devanagari
        ("timeout", "６０"),  # fullwidth
        ("frame_rate", "1٠"),
    ],
)
def test_numeric_strings_take_ascii_digits_only(tenant: Tenant, field: str, value: str) -> None:
    _refused(tenant.call("/v1/record/init", group_id="g", **{field: value}), field)


def test_time_filters_take_ascii_only_and_are_bounded(tenant: Tenant) -> None:
    _refused(tenant.get("/v1/record/task/list", start_time="١٧٠٠٠٠٠٠٠٠"), "start_time")
    _refused(tenant.get("/v1/record/task/list", stop_time="1" * 65), "stop_time")
    assert tenant.get("/v1/record/task/list", start_time="1700000000")["code"] == 0


@pytest.mark.parametrize(
    "field", ["group_id", "file_name", "app_id"], ids=["group_id", "file_name", "app_id"]
)
def test_string_fields_have_maximum_lengths(tenant: Tenant, field: str) -> None:
    body = {"app_id": tenant.app_id, "group_id": "g", field: "x" * 201}
    reply = tenant.post("/v1/record/init", body)
    # app_id is checked for ownership only once it is valid: a too long one is a parameter error first
    _refused(reply, field)


def test_deeply_nested_record_list_is_a_parameter_error(tenant: Tenant) -> None:
    """Issue 16 #6: `record_list=` + 50,000 `[` was a RecursionError and HTTP 500."""
    nested = "[" * 50_000
    form = tenant.post_raw(
        DELETE, f"app_id={tenant.app_id}&record_list={nested}", "application/x-www-form-urlencoded"
    )
    _refused(form, "record_list")
    _refused(tenant.call(DELETE, record_list=nested), "record_list")
    _refused(tenant.call(DELETE, record_list='["a", ["b"]]'), "record_list")
    # a whole JSON body nested that deep is invalid JSON for this server, not an internal failure
    assert tenant.post_raw(DELETE, '{"record_list":' + nested)["code"] == 6050030005
    assert tenant.post_raw(DELETE, "[" * 50_000 + "]" * 50_000)["code"] in (6050030003, 6050030005)
    # the flat form still works
    done = tenant.finished()
    ok = tenant.post_raw(
        DELETE, f'app_id={tenant.app_id}&record_list=["{done}"]', "application/x-www-form-urlencoded"
    )
    assert ok == {"code": 0, "msg": "ok"}


def test_form_bodies_are_bounded_like_json(tenant: Tenant) -> None:
    big = f"app_id={tenant.app_id}&record_list=" + "a" * (1024 * 1024 + 1)
    reply = tenant.post_raw(DELETE, big, "application/x-www-form-urlencoded")
    assert reply["code"] == 6050030003 and "body" in reply["msg"], reply
