"""Fixtures of the cluster tests: a local Ray cluster (a head, two recorder nodes), a real PostgreSQL, a
real S3-speaking server, the test media server, and cluster-mode cloudrec servers (in this process, or
as a second API process)."""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api.harness import DatabaseFactory, LiveServer, start_server
from support.mediaserver import free_port
from support.postgres import PostgresServer, pg_bin
from support.raycluster import RayTestCluster
from support.s3server import MotoServer
from support.server import E2E_SETTINGS

BUCKET = "recordings"
SLOTS_PER_NODE = 2  # one 160x90@15 recording (2 units) per node
CLUSTER_DB_ENV = "CLOUDREC_CLUSTER_TEST_DATABASE_URL"


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """PostgreSQL: the one the suite is given, else a private one started here."""
    given = os.environ.get("CLOUDREC_TEST_DATABASE_URL") or os.environ.get(CLUSTER_DB_ENV)
    if given:
        yield given
        return
    if pg_bin() is None:
        pytest.skip(f"cluster mode needs PostgreSQL: apt-get install postgresql, or set {CLUSTER_DB_ENV}")
    with PostgresServer() as pg:
        yield pg.url


@pytest.fixture(scope="session")
def cluster_dbs(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(pg_url, tmp_path_factory.mktemp("cluster-dbs"))
    yield factory
    factory.drop_all()


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[RayTestCluster]:
    import ray

    cluster = RayTestCluster(recorder_nodes=2, slots_per_node=SLOTS_PER_NODE)
    try:
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()


@pytest.fixture(autouse=True)
def _no_recorder_left(ray_cluster: RayTestCluster) -> Iterator[None]:
    """Every test starts with the cluster's slots free (a failed test may leave actors behind)."""
    yield
    import ray

    if not ray.is_initialized():
        return
    from cloudrec.cluster.actor import kv_del, kv_get, kv_keys

    for key in kv_keys("rec-"):  # recordings (their spare recorders stay for the next test)
        name = kv_get(key)
        with contextlib.suppress(ValueError):
            if name:
                ray.kill(ray.get_actor(name))
        kv_del(key)
    for group in ray.util.placement_group_table().values():
        if group.get("state") != "REMOVED" and str(group.get("name", "")).startswith("slot-"):
            with contextlib.suppress(ValueError):
                ray.util.remove_placement_group(ray.util.get_placement_group(group["name"]))


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    with MotoServer() as server:
        server.client().create_bucket(Bucket=BUCKET)
        yield server


def cluster_settings(cluster: RayTestCluster, moto: MotoServer) -> dict[str, Any]:
    return {
        **E2E_SETTINGS,
        "recorder_host": "ray",
        "ray_address": cluster.address,
        "storage": "s3",
        "s3_endpoint_url": moto.endpoint,
        "s3_region": "us-east-1",
        "s3_bucket": BUCKET,
        "s3_prefix": "cloudrec",
        "s3_access_key_id": "k",
        "s3_secret_access_key": "s",
        "s3_path_style": True,
        "lease_ttl_s": 3.0,
        "lease_scan_s": 0.5,
        "shutdown_upload_wait_s": 0.5,
        "min_free_disk_mb": 1,
    }


@pytest.fixture
def api(
    ray_cluster: RayTestCluster, moto: MotoServer, cluster_dbs: DatabaseFactory, tmp_path: Path
) -> Iterator[LiveServer]:
    """A cluster-mode server in this process (the test's Ray driver)."""
    server = start_server(
        tmp_path / "api-a", cluster_dbs.new_url(), real_time=True, **cluster_settings(ray_cluster, moto)
    )
    try:
        wait_spares(ray_cluster)
        yield server
    finally:
        server.stop()


def wait_spares(cluster: RayTestCluster, timeout_s: float = 60.0) -> None:
    """Until every recorder node has its spare recorder (as a cluster that has been up a while has)."""
    from cloudrec.cluster.actor import kv_get
    from cloudrec.cluster.spares import spare_key

    deadline = time.monotonic() + timeout_s
    while not all(kv_get(spare_key(node_id)) for node_id in cluster.nodes):
        assert time.monotonic() < deadline, "the recorder nodes got no spare recorders"
        time.sleep(0.1)


class ApiProcess:
    """A second cluster-mode API process (`python -m cloudrec serve`) on the same database and store."""

    def __init__(self, first: LiveServer, cluster: RayTestCluster, moto: MotoServer, data_dir: Path) -> None:
        self.port = free_port()
        settings = first.settings
        env = {
            **os.environ,
            **{f"CLOUDREC_{k.upper()}": str(v) for k, v in cluster_settings(cluster, moto).items()},
            "CLOUDREC_DATA_DIR": str(data_dir),
            "CLOUDREC_DATABASE_URL": settings.database_url,
            "CLOUDREC_SECRETS_KEY": settings.secrets_key.get_secret_value(),
            "CLOUDREC_SIGNING_KEY": settings.signing_key.get_secret_value(),
            "CLOUDREC_LOG_LEVEL": "WARNING",
        }
        self.log = data_dir.with_suffix(".log")
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cloudrec", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the second API process did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture
def second_api(
    api: LiveServer, ray_cluster: RayTestCluster, moto: MotoServer, tmp_path: Path
) -> Iterator[ApiProcess]:
    proc = ApiProcess(api, ray_cluster, moto, tmp_path / f"api-b-{secrets.token_hex(2)}")
    try:
        yield proc
    finally:
        proc.stop()
