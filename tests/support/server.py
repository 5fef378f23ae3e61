"""Helpers of the end-to-end tests: fast time settings, publishing into groups, downloading files."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import httpx

from .publisher import Publisher


class Caller(Protocol):
    """Who calls the API for an app: `api.harness.Tenant` (in-process server) or `support.serve.Account`."""

    def call(self, path: str, **fields: Any) -> dict[str, Any]: ...

    def get(self, path: str, **params: Any) -> dict[str, Any]: ...

    def wait_status(self, record_id: str, *statuses: int, timeout: float = 30.0) -> dict[str, Any]: ...


# A "minute" of file_duration is 0.2 s here: file_duration 15 → 3 s segments; timeout 5 → 1 s.
E2E_SETTINGS: dict[str, Any] = {
    "time_unit_s": 0.2,
    "timeout_scale": 0.2,
    "source_open_timeout_s": 3.0,
    "source_read_timeout_s": 1.0,
    "max_recordings": 4,
}

# `publish(name, **media spec)` of the e2e fixtures: a started publisher and its HTTP-FLV pull URL.
PublishFn = Callable[..., tuple[Publisher, str]]


def publish_stream(
    tenant: Caller, group_id: str, user_id: str, url: str, media_type: int, media_id: str = "0"
) -> None:
    """Announce a stream of `user_id` in `group_id` (POST /v1/group/stream/publish)."""
    reply = tenant.call(
        "/v1/group/stream/publish",
        group_id=group_id,
        user_id=user_id,
        media_type=media_type,
        media_id=media_id,
        url=url,
    )
    assert reply["code"] == 0, reply


def unpublish_stream(
    tenant: Caller, group_id: str, user_id: str, media_type: int, media_id: str = "0"
) -> None:
    reply = tenant.call(
        "/v1/group/stream/unpublish",
        group_id=group_id,
        user_id=user_id,
        media_type=media_type,
        media_id=media_id,
    )
    assert reply["code"] == 0, reply


def download(tenant: Caller, record_id: str, dest: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every file of a task through its signed URL; checks the API's md5 against the bytes."""
    reply = tenant.get("/v1/record/file/download/url", record_id=record_id)
    assert reply["code"] == 0, reply
    out: list[tuple[Path, dict[str, Any]]] = []
    dest.mkdir(parents=True, exist_ok=True)
    for item in reply["data_list"]:
        r = httpx.get(item["url"], timeout=30)
        assert r.status_code == 200, (item["url"], r.status_code)
        assert hashlib.md5(r.content).hexdigest() == item["md5"], item["file_name"]
        path = dest / item["file_name"]
        path.write_bytes(r.content)
        out.append((path, item))
    return out


def finish(tenant: Caller, record_id: str) -> dict[str, Any]:
    """Finish a task and wait until its files are downloadable (status 6); the finish reply."""
    reply = tenant.call("/v1/record/finish", record_id=record_id)
    assert reply["code"] == 0, reply
    tenant.wait_status(record_id, 6, timeout=30)
    return reply
