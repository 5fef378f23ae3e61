"""A restart of the Ray head (its GCS killed, started again on its Redis state) with a recording running:
the recording is not interrupted, nothing recorded is lost, and it is reached again once the head is back."""

from __future__ import annotations

import pytest

# Skipped, saying why, where the `cluster` extra is not installed (the embedded default needs no Ray).
ray = pytest.importorskip("ray", reason="cluster mode needs Ray: pip install 'cloudrec[cluster]' (or .[dev])")

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from api.harness import LiveServer
from support.raycluster import RayTestCluster
from support.redisserver import RedisServer
from support.server import PublishFn

from .conftest import SLOTS_PER_NODE
from .test_cluster import finish_and_check, init, publish_group, recorder, stored_files

HEAD_DOWN_S = 6.0  # one or two 3 s segments close while the head is away


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[RayTestCluster]:
    if not RedisServer.available():
        pytest.skip("the head's fault tolerance needs Redis: apt-get install redis-server")
    with RedisServer() as redis:
        cluster = RayTestCluster(recorder_nodes=1, slots_per_node=SLOTS_PER_NODE, redis_address=redis.address)
        try:
            yield cluster
        finally:
            ray.shutdown()
            cluster.shutdown()


def test_a_head_restart_interrupts_no_recording(
    api: LiveServer, ray_cluster: RayTestCluster, publish: PublishFn, tmp_path: Path
) -> None:
    tenant = api.tenant()
    publish_group(tenant, publish, "head")
    reply = init(tenant, "head")
    assert reply["code"] == 0, reply
    record_id = reply["record_id"]
    before = recorder(tenant, record_id)
    deadline = time.monotonic() + 20
    while not stored_files(api, record_id):
        assert time.monotonic() < deadline, "no segment stored"
        time.sleep(0.1)
    stored_before = len(stored_files(api, record_id))
    ray_cluster.restart_head(HEAD_DOWN_S)
    during = len(stored_files(api, record_id)) - stored_before
    assert during >= 1, "the recording stored no segment while the head was away"
    ray.available_resources()  # the cluster answers again
    after = recorder(tenant, record_id)  # found by name again, the same actor
    assert (after["pid"], after["node_id"]) == (before["pid"], before["node_id"])
    time.sleep(1.0)
    files = finish_and_check(tenant, record_id, tmp_path / "out", "head")
    task = tenant.task(record_id)
    assert task["gaps"] == [] and tenant.row(record_id).lease_epoch == 1, task
    assert len(files) >= 3
    print(f"{len(files)} segments, {during} of them stored while the head was away")
