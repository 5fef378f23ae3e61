"""Fixtures of the end-to-end tests: a real media server, publishers, and a real cloudrec server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api.harness import DatabaseFactory, Tenant, start_server
from support.mediaserver import MediaServer
from support.publisher import Publisher, SpecFields
from support.server import E2E_SETTINGS, PublishFn


@pytest.fixture(scope="session")
def nms() -> Iterator[MediaServer]:
    with MediaServer() as server:
        yield server


@pytest.fixture
def tenant(databases: DatabaseFactory, tmp_path: Path) -> Iterator[Tenant]:
    """A developer with an app on a fresh server that records in real time (short segments)."""
    live = start_server(tmp_path / "data", databases.new_url(), real_time=True, **E2E_SETTINGS)
    try:
        yield live.tenant()
    finally:
        live.stop()


@pytest.fixture
def publish(nms: MediaServer, request: pytest.FixtureRequest) -> Iterator[PublishFn]:
    """`publish(name, **spec)` starts a publisher into NMS and returns it and its HTTP-FLV pull URL."""
    started: list[Publisher] = []

    def _publish(name: str, **fields: Any) -> tuple[Publisher, str]:
        stream = f"{request.node.name[:40]}-{name}"
        stream = "".join(c if c.isalnum() or c in "_-" else "_" for c in stream)
        spec: SpecFields = {"size": (160, 120), "fps": 15, **fields}  # type: ignore[typeddict-item]
        pub = Publisher(nms.rtmp_url("live", stream), **spec)
        pub.start()
        started.append(pub)
        return pub, nms.flv_url("live", stream)

    yield _publish
    for pub in started:
        pub.stop(kill=True)
