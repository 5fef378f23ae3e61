"""GET /v1/record/file/download/url and the signed /download links (Range, tampering, expiry)."""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from api.harness import LIVE_SERVER_SETTINGS, LiveServer, ServerFactory, Tenant, contract_json
from cloudrec.storage.local import LocalStorage
from cloudrec.storage.signing import sign

URLS = "/v1/record/file/download/url"


def _links(tenant: Tenant, record_id: str, **params: Any) -> dict[str, Any]:
    reply = tenant.get(URLS, record_id=record_id, **params)
    assert reply["code"] == 0, reply
    return reply


def test_links_of_a_done_task(tenant: Tenant, live_server: LiveServer) -> None:
    record_id = tenant.finished(file_name="class1")
    contents = tenant.add_segments(record_id, 2)
    reply = _links(tenant, record_id)
    assert reply["msg"] == "OK" and reply["total_num"] == 2 and reply["page"] == 1
    names = [item["file_name"] for item in reply["data_list"]]
    assert names == ["class1_0001.mp4", "class1_0002.mp4"]
    for index, (item, data) in enumerate(zip(reply["data_list"], contents, strict=True), start=1):
        assert item["md5"] == hashlib.md5(data).hexdigest()
        extent = json.loads(item["extent"])
        assert extent["index"] == index and extent["size"] == len(data)
        assert extent["duration"] == pytest.approx(10.0 + index / 4)
        assert isinstance(extent["start_time"], str) and len(extent["start_time"]) == 19
        # a plain HTTP client fetches the signed URL
        r = httpx.get(item["url"])
        assert r.status_code == 200 and r.content == data
        assert r.headers["content-type"] == "video/mp4"
        assert item["url"].startswith(live_server.settings.base_url + "/download/")


def test_range_requests(tenant: Tenant) -> None:
    record_id = tenant.finished()
    (data,) = tenant.add_segments(record_id, 1, size=5000)
    url = _links(tenant, record_id)["data_list"][0]["url"]
    r = httpx.get(url, headers={"Range": "bytes=100-199"})
    assert r.status_code == 206 and r.content == data[100:200]
    assert r.headers["content-range"] == "bytes 100-199/5000"
    r = httpx.get(url, headers={"Range": "bytes=4990-"})
    assert r.status_code == 206 and r.content == data[4990:]
    assert httpx.head(url).headers["accept-ranges"] == "bytes"


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("bytes=10-5", "ends before it starts"),
        ("bytes=5000-", "not satisfiable"),
        ("bytes=9999-10000", "not satisfiable"),
        ("bytes=-0", "not satisfiable"),
        ("bytes=abc", "malformed"),
        ("bytes=١-٢", "malformed"),  # ASCII digits only
        ("bytes=1_0-20", "malformed"),
        ("bytes=", "no range"),
        ("bytes 0-10", "bytes=<first>-<last>"),
        ("bytes=" + ",".join(["0-1"] * 101), "more than 100"),
    ],
)
def test_range_errors_are_416_with_content_range_and_json(tenant: Tenant, value: str, why: str) -> None:
    """Issue 16 #11: these answered text/plain 400 or an empty 416."""
    record_id = tenant.finished()
    tenant.add_segments(record_id, 1, size=5000)
    url = _links(tenant, record_id)["data_list"][0]["url"]
    r = httpx.get(url, headers={b"Range": value.encode("utf-8")})
    assert r.status_code == 416, (r.status_code, r.text)
    assert r.headers["content-range"] == "bytes */5000"
    reply = contract_json(r)
    assert reply["code"] == 6050030003 and "Range" in reply["msg"] and why in reply["msg"], reply


def test_range_edges(tenant: Tenant) -> None:
    record_id = tenant.finished()
    (data,) = tenant.add_segments(record_id, 1, size=5000)
    url = _links(tenant, record_id)["data_list"][0]["url"]
    # an unknown unit is ignored (RFC 9110 14.2): the whole file
    r = httpx.get(url, headers={"Range": "items=0-10"})
    assert r.status_code == 200 and r.content == data
    # one satisfiable range among unsatisfiable ones is served
    r = httpx.get(url, headers={"Range": "bytes=9000-9100, 0-9"})
    assert r.status_code == 206 and r.content == data[:10]
    # a last position beyond the end is cut to the end; a suffix longer than the file is the file
    r = httpx.get(url, headers={"Range": "bytes=4990-99999"})
    assert r.status_code == 206 and r.content == data[4990:]
    r = httpx.get(url, headers={"Range": "bytes=-99999"})
    assert r.status_code == 206 and r.content == data
    # HEAD answers the same status and headers
    r = httpx.head(url, headers={"Range": "bytes=10-5"})
    assert r.status_code == 416 and r.headers["content-range"] == "bytes */5000"


def test_fifty_files_a_page(tenant: Tenant) -> None:
    record_id = tenant.finished()
    tenant.add_segments(record_id, 51, size=10)
    first = _links(tenant, record_id)
    assert first["total_num"] == 51 and len(first["data_list"]) == 50
    second = _links(tenant, record_id, page=2)
    assert second["page"] == 2 and [i["file_name"][-8:] for i in second["data_list"]] == ["0051.mp4"]
    assert _links(tenant, record_id, page=3)["data_list"] == []


@pytest.mark.parametrize(("page", "ok"), [(0, False), (1, True), ("2", True), (-1, False), (2**31, False)])
def test_page_edges(tenant: Tenant, page: Any, ok: bool) -> None:
    record_id = tenant.finished()
    reply = tenant.get(URLS, record_id=record_id, page=page)
    assert reply["code"] == (0 if ok else 6050030003), reply


def test_done_task_without_files(tenant: Tenant) -> None:
    reply = _links(tenant, tenant.finished())
    assert reply["total_num"] == 0 and reply["data_list"] == []


@pytest.mark.parametrize("status", [1, 2, 3, 4, 5])
def test_not_ready_before_done(tenant: Tenant, status: int) -> None:
    record_id = tenant.seed_task(status)
    reply = tenant.get(URLS, record_id=record_id)
    assert reply["code"] == 6050030031, reply


def test_failed_task_with_files_is_downloadable(server_factory: ServerFactory) -> None:
    server = server_factory(**LIVE_SERVER_SETTINGS, restart_budget=0)  # no successor: a death fails it
    tenant = server.tenant()
    record_id = tenant.start_manual()
    pid = server.host.pid(record_id)
    assert pid is not None
    os.kill(pid, 9)  # the recorder dies: the task fails, what it recorded stays downloadable
    tenant.wait_status(record_id, -1)
    assert "restart budget spent" in tenant.row(record_id).error
    assert tenant.get(URLS, record_id=record_id)["code"] == 6050030031  # nothing recorded yet
    (data,) = tenant.add_segments(record_id, 1)
    item = _links(tenant, record_id)["data_list"][0]
    assert httpx.get(item["url"]).content == data


def test_unknown_task(tenant: Tenant) -> None:
    assert tenant.get(URLS, record_id="20200101000000_0000000000000000")["code"] == 6050030001


@pytest.mark.parametrize(("params", "field"), [({}, "record_id"), ({"record_id": ""}, "record_id")])
def test_missing_record_id(tenant: Tenant, params: dict[str, str], field: str) -> None:
    reply = tenant.get(URLS, **params)
    assert reply["code"] == 6050030003 and field in reply["msg"]


# ---- the signed links ------------------------------------------------------------------------------


def _signed(tenant: Tenant) -> tuple[str, bytes]:
    record_id = tenant.finished()
    (data,) = tenant.add_segments(record_id, 1)
    url: str = _links(tenant, record_id)["data_list"][0]["url"]
    return url, data


def _refused(url: str, status: int) -> dict[str, Any]:
    r = httpx.get(url)
    assert r.status_code == status, (r.status_code, r.text)
    return contract_json(r)


def test_tampered_links_are_forbidden(tenant: Tenant) -> None:
    url, _ = _signed(tenant)
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    sig, expires = query["sig"][0], query["expires"][0]
    base = f"{parts.scheme}://{parts.netloc}{parts.path}"
    flipped = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    assert _refused(f"{base}?expires={expires}&sig={flipped}", 403)["code"] == 6050030007
    assert _refused(f"{base}?expires={int(expires) + 1}&sig={sig}", 403)["code"] == 6050030007
    other_key = base.rsplit("/", 1)[0] + "/other.mp4"
    assert _refused(f"{other_key}?expires={expires}&sig={sig}", 403)["code"] == 6050030007
    assert _refused(base, 403)["code"] == 6050030007
    assert _refused(f"{base}?expires=soon&sig={sig}", 403)["code"] == 6050030007
    assert _refused(f"{base}?expires={expires}&sig=%C3%A9", 403)["code"] == 6050030007


def test_escaping_keys_are_forbidden(live_server: LiveServer) -> None:
    storage = live_server.ctx.storage
    assert isinstance(storage, LocalStorage)
    expires = int(live_server.clock.time()) + 60
    with live_server.http() as c:
        r = c.get("/download/..%2F..%2Fcloudrec.db", params={"expires": expires, "sig": "0" * 64})
        assert r.status_code == 403 and contract_json(r)["code"] == 6050030007
        # even signed with the server's own key, a key outside the storage root is refused
        key = "../cloudrec.db"
        r = c.get(
            "/download/..%2Fcloudrec.db",
            params={"expires": expires, "sig": sign(key, expires, storage.secret)},
        )
        assert r.status_code == 403 and contract_json(r)["code"] == 6050030007


def test_links_expire(tenant: Tenant, live_server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live_server.settings, "download_url_ttl_s", 60)
    url, data = _signed(tenant)
    live_server.clock.advance(59)
    assert httpx.get(url).content == data
    live_server.clock.advance(2)
    reply = _refused(url, 403)
    assert reply["code"] == 6050030007 and "expired" in reply["msg"]


def test_deleted_file_is_not_found(tenant: Tenant) -> None:
    url, _ = _signed(tenant)
    record_id = tenant.get("/v1/record/task/list")["record_list"][0]["record_id"]
    assert tenant.call("/v1/record/file", record_list=[record_id])["code"] == 0
    assert _refused(url, 404)["code"] == 6050030031


def test_download_route_serves_local_storage_only(
    tenant: Tenant, live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = _signed(tenant)

    class OtherStorage:  # e.g. S3: its URLs point elsewhere
        pass

    monkeypatch.setattr(live_server.ctx, "storage", OtherStorage())
    assert _refused(url, 404)["code"] == 6050030031
