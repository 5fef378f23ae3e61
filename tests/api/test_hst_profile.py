"""Profile `hst` (CLOUDREC_COMPAT=hst): the vendor's 9-digit error codes on every path, status 7 while
suspended, and one live access_token per developer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.harness import LIVE_SERVER_SETTINGS, LiveServer, ServerFactory, Tenant, contract_json
from cloudrec.api.errors import profile_code

LIST = "/v1/record/task/list"


@pytest.fixture(scope="module")
def hst_server(server_factory: ServerFactory) -> Iterator[LiveServer]:
    server = server_factory(compat="hst", **LIVE_SERVER_SETTINGS)
    yield server
    server.finish_recordings()


@pytest.fixture
def hst(hst_server: LiveServer) -> Tenant:
    return hst_server.tenant()


def test_the_code_mapping() -> None:
    assert profile_code(6050030003, "default") == 6050030003
    assert profile_code(6050030003, "hst") == 605030003
    assert profile_code(6050030039, "hst") == 605030039
    assert profile_code(6050030000, "hst") == 605030000
    assert profile_code(606000001, "hst") == 606000001  # already in the 9-digit family
    assert profile_code(6050030003, "hst", hst_code=605030040) == 605030040
    assert profile_code(6050030003, "default", hst_code=605030040) == 6050030003


def test_business_errors_in_the_9_digit_family(hst: Tenant) -> None:
    assert hst.call("/v1/record/init", group_id="g", width=0)["code"] == 605030003
    assert hst.post_raw("/v1/record/init", '{"app_id": 1,}')["code"] == 605030005
    assert hst.call("/v1/record/finish", record_id="nope")["code"] == 605030001
    record_id = hst.init()  # manual, status 1: not recording yet
    assert hst.call("/v1/record/suspend", record_id=record_id)["code"] == 605030039
    auto = hst.init(group_id="room", auto={})
    assert hst.call("/v1/record/set/layout", record_id=auto)["code"] == 605030035
    assert hst.call("/v1/record/init", group_id="room", auto={})["code"] == 605030038
    assert hst.get("/v1/record/file/download/url", record_id=record_id)["code"] == 605030031
    assert hst.call("/v1/record/file", mode=1, record_list=[record_id])["code"] == 605030003
    assert hst.get(LIST, app_id="someone-elses")["code"] == 605030007


def test_resume_of_a_task_not_paused_is_605030040(hst: Tenant) -> None:
    record_id = hst.start_manual()
    reply = hst.call("/v1/record/resume", record_id=record_id)
    assert reply["code"] == 605030040 and "not suspended" in reply["msg"]


def test_resume_of_a_task_not_paused_stays_6050030003_by_default(tenant: Tenant) -> None:
    record_id = tenant.start_manual()
    assert tenant.call("/v1/record/resume", record_id=record_id)["code"] == 6050030003


def test_authentication_codes(hst_server: LiveServer, hst: Tenant) -> None:
    with hst_server.http() as c:
        r = c.get("/access/token", headers={"Authorization": f"{hst.dev_id}.garbage"})
        assert contract_json(r)["code"] == 606000000
        assert contract_json(c.get(LIST, params={"app_id": hst.app_id}))["code"] == 605030006
        r = c.get(LIST, params={"app_id": hst.app_id}, headers={"Authorization": "0" * 32})
        assert contract_json(r)["code"] == 605030007
        r = c.get("/no/such/path")
        assert r.status_code == 404 and contract_json(r)["code"] == 605030003
        r = c.put("/v1/record/init")
        assert r.status_code == 405 and contract_json(r)["code"] == 605030003
        r = c.get("/server/address")
        assert contract_json(r)["code"] == 605030003


def test_expired_access_token_keeps_606000001(hst_server: LiveServer) -> None:
    tenant = hst_server.tenant()
    hst_server.clock.advance(hst_server.settings.access_token_ttl_s + 1)
    try:
        assert tenant.get(LIST)["code"] == 606000001
    finally:
        hst_server.clock.advance(-(hst_server.settings.access_token_ttl_s + 1))


def test_download_link_errors(hst: Tenant) -> None:
    record_id = hst.finished()
    hst.add_segments(record_id, 1)
    (item,) = hst.get("/v1/record/file/download/url", record_id=record_id)["data_list"]
    r = httpx.get(item["url"].replace("sig=", "sig=0"))
    assert r.status_code == 403 and contract_json(r)["code"] == 605030007


def test_a_suspended_task_shows_status_7(hst: Tenant) -> None:
    record_id = hst.start_manual()
    other = hst.start_manual()
    assert hst.call("/v1/record/suspend", record_id=record_id)["code"] == 0
    task = hst.task(record_id)
    assert (task["status"], task["paused"]) == (7, True)
    assert [t["record_id"] for t in hst.get(LIST, status=7)["record_list"]] == [record_id]
    assert [t["record_id"] for t in hst.get(LIST, status=2)["record_list"]] == [other]
    assert hst.get(LIST, status=0)["total_num"] == 2
    assert hst.call("/v1/record/resume", record_id=record_id)["code"] == 0
    assert (hst.task(record_id)["status"], hst.task(record_id)["paused"]) == (2, False)
    finish = hst.call("/v1/record/finish", record_id=record_id)
    assert finish["code"] == 0


def test_a_new_access_token_revokes_the_previous_one(hst_server: LiveServer, hst: Tenant) -> None:
    first = hst.access_token
    assert hst.get(LIST)["code"] == 0  # used (and seen) before it is revoked
    second = hst_server.access_token(hst.dev_id, hst.dev_secret)
    assert second != first
    with hst_server.http() as c:
        headers: dict[str, Any] = {"Authorization": first}
        r = c.get(LIST, params={"app_id": hst.app_id}, headers=headers)
        assert contract_json(r)["code"] == 605030007
        r = c.get(LIST, params={"app_id": hst.app_id}, headers={"Authorization": second})
        assert contract_json(r)["code"] == 0
    # another developer's token is not touched
    other = hst_server.tenant()
    assert other.get(LIST)["code"] == 0
    with hst_server.http() as c:
        r = c.get(LIST, params={"app_id": hst.app_id}, headers={"Authorization": second})
        assert contract_json(r)["code"] == 0


def test_access_tokens_live_side_by_side_by_default(live_server: LiveServer, tenant: Tenant) -> None:
    second = live_server.access_token(tenant.dev_id, tenant.dev_secret)
    assert tenant.get(LIST)["code"] == 0
    with live_server.http() as c:
        r = c.get(LIST, params={"app_id": tenant.app_id}, headers={"Authorization": second})
        assert contract_json(r)["code"] == 0


def test_streams_list_the_whiteboard_as_4(hst: Tenant) -> None:
    url = "rtmp://127.0.0.1:1/live/wb"
    reply = hst.call(
        "/v1/group/stream/publish", group_id="g", user_id="", media_type=3, media_id="wb", url=url
    )
    assert reply["code"] == 0
    (stream,) = hst.get("/v1/group/stream/list", group_id="g")["stream_list"]
    assert (stream["user_id"], stream["media_type"]) == ("", 4)
