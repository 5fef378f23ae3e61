"""Requests at the same moment: the rules hold under concurrency, and nothing answers a 5xx."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

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
