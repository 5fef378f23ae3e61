"""Requests at the same moment: the rules hold under concurrency, and nothing answers a 5xx."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from api.harness import Tenant, contract_json


def _parallel(tenant: Tenant, path: str, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def post(body: dict[str, Any]) -> dict[str, Any]:
        r = tenant.client.post(path, json={"app_id": tenant.app_id, **body})
        assert r.status_code == 200, r.text
        return contract_json(r)

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(post, bodies))


def test_one_automatic_task_per_group_under_concurrency(tenant: Tenant) -> None:
    replies = _parallel(tenant, "/v1/record/init", [{"group_id": "race", "auto": {}}] * 6)
    codes = sorted(r["code"] for r in replies)
    assert codes == [0] + [6050030038] * 5, replies
    assert tenant.get("/v1/record/task/list", group_id="race")["total_num"] == 1


def test_concurrent_publishes_of_one_stream(tenant: Tenant) -> None:
    bodies = [
        {"group_id": "g", "user_id": "u", "media_type": 2, "media_id": "0", "url": f"rtmp://h/live/{i}"}
        for i in range(8)
    ]
    replies = _parallel(tenant, "/v1/group/stream/publish", bodies)
    assert [r["code"] for r in replies] == [0] * 8, replies
    assert tenant.get("/v1/group/stream/list", group_id="g")["total_num"] == 1


def test_concurrent_finishes_answer_the_same(tenant: Tenant) -> None:
    record_id = tenant.start_manual()
    replies = _parallel(tenant, "/v1/record/finish", [{"record_id": record_id}] * 6)
    assert all(r == replies[0] for r in replies), replies
    assert replies[0]["code"] == 0


def test_a_burst_beyond_the_connection_pool_is_served(tenant: Tenant) -> None:
    """More requests at once than the database pool has connections and the server has worker threads:
    they wait their turn; none waits for a connection until the pool times out (a 5xx after 30 s)."""
    count = 200

    async def burst() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=None)
        headers = {"Authorization": tenant.access_token}
        async with httpx.AsyncClient(
            base_url=tenant.server.base_url, headers=headers, timeout=60, limits=limits
        ) as client:
            requests = [
                client.get("/v1/record/task/list", params={"app_id": tenant.app_id}) for _ in range(count)
            ]
            return list(await asyncio.gather(*requests))

    started = time.monotonic()
    replies = asyncio.run(burst())
    took = time.monotonic() - started
    assert [r.status_code for r in replies] == [200] * count
    assert {contract_json(r)["code"] for r in replies} == {0}
    assert took < 20, f"{count} requests took {took:.1f} s"
