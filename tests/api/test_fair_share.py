"""Fair share (issue 16 #2): one developer (or app) cannot take every recording slot."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from api.harness import ServerFactory, Tenant, contract_json

INIT = "/v1/record/init"


def _parallel_inits(tenant: Tenant, count: int, app_id: str | None = None) -> list[dict[str, Any]]:
    def post(i: int) -> dict[str, Any]:
        r = tenant.client.post(INIT, json={"app_id": app_id or tenant.app_id, "group_id": f"g{i}"})
        assert r.status_code == 200, r.text
        return contract_json(r)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(post, range(count)))


def test_parallel_inits_of_one_developer_stop_at_its_share(server_factory: ServerFactory) -> None:
    server = server_factory(max_recordings=4, max_recordings_per_developer=2, min_free_disk_mb=1)
    greedy = server.tenant()
    second_app = server.add_app(greedy.dev_id)
    replies = _parallel_inits(greedy, 12)
    codes = sorted(r["code"] for r in replies)
    assert codes == [0, 0] + [6050030009] * 10, replies
    refusals = [r["msg"] for r in replies if r["code"]]
    assert all("developer limit" in m and "max_recordings_per_developer" in m for m in refusals), refusals
    # the developer's other app shares the developer's limit
    other = greedy.call(INIT, app_id=second_app, group_id="x")
    assert other["code"] == 6050030009 and "developer limit" in other["msg"], other
    # another developer still gets a slot: the operator's total (4) is not used up
    assert server.tenant().call(INIT, group_id="g")["code"] == 0
    # a finished task gives its share back
    done = next(r["record_id"] for r in replies if r["code"] == 0)
    greedy.call("/v1/record/finish", record_id=done)
    greedy.wait_status(done, 5, 6)
    assert greedy.call(INIT, group_id="again")["code"] == 0
    server.finish_recordings()


def test_per_app_limit(server_factory: ServerFactory) -> None:
    server = server_factory(max_recordings=8, max_recordings_per_app=1, min_free_disk_mb=1)
    tenant = server.tenant()
    other_app = server.add_app(tenant.dev_id)
    assert tenant.call(INIT, group_id="a")["code"] == 0
    refused = tenant.call(INIT, group_id="b")
    assert refused["code"] == 6050030009, refused
    assert "app limit" in refused["msg"] and "max_recordings_per_app" in refused["msg"], refused
    assert tenant.call(INIT, app_id=other_app, group_id="b")["code"] == 0
    server.finish_recordings()


def test_the_operators_total_still_holds(server_factory: ServerFactory) -> None:
    server = server_factory(max_recordings=2, max_recordings_per_developer=5, min_free_disk_mb=1)
    tenant = server.tenant()
    assert [tenant.call(INIT, group_id=f"g{i}")["code"] for i in range(2)] == [0, 0]
    refused = tenant.call(INIT, group_id="g2")
    assert refused["code"] == 6050030009 and "every recording slot" in refused["msg"], refused
    server.finish_recordings()
