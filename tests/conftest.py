"""Fixtures shared by the whole suite.

Databases: `CLOUDREC_TEST_DATABASE_URL` (PostgreSQL in CI) gives every server its own fresh schema,
dropped at the end of the run; without it, every server gets its own SQLite file.
Media: one node-media-server for the session (`nms`), publishers into it (`publish`).
Servers: real ones (production wiring, uvicorn on loopback, ManualClock) from `server_factory`;
`live_server` is one shared by the API tests, and `tenant` a fresh developer + app on it per test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from api.harness import LIVE_SERVER_SETTINGS, DatabaseFactory, LiveServer, ServerFactory, Tenant, start_server
from support.mediaserver import MediaServer
from support.publisher import Publisher, SpecFields
from support.server import PublishFn

TEST_DATABASE_ENV = "CLOUDREC_TEST_DATABASE_URL"

# ---- databases ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    """`databases.new_url()`: an empty database (SQLite file, or PostgreSQL schema) per call."""
    factory = DatabaseFactory(os.environ.get(TEST_DATABASE_ENV, ""), tmp_path_factory.mktemp("databases"))
    factory.drop_all()  # leftovers of an interrupted run
    yield factory
    factory.drop_all()


# ---- servers -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def server_factory(
    databases: DatabaseFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerFactory]:
    """`server_factory(**settings)`: a new real server with its own database and data dir."""

    def start(**overrides: Any) -> LiveServer:
        server = start_server(tmp_path_factory.mktemp("server"), databases.new_url(), **overrides)
        _STARTED.append(server)
        return server

    yield start
    for server in _STARTED:
        server.stop()
    _STARTED.clear()


@pytest.fixture
def own_server(
    databases: DatabaseFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerFactory]:
    """Like `server_factory`, but its servers stop when the test ends (for tests that break them)."""
    started: list[LiveServer] = []

    def start(**overrides: Any) -> LiveServer:
        started.append(start_server(tmp_path_factory.mktemp("server"), databases.new_url(), **overrides))
        return started[-1]

    yield start
    for server in started:
        server.stop()


# The servers `server_factory` started: they live as long as the session, their recordings do not.
_STARTED: list[LiveServer] = []


@pytest.fixture(autouse=True)
def _finish_factory_recordings() -> Iterator[None]:
    """After each test, finish what it left recording on the session's servers (a recording's timeline
    runs from its start: one left running composes and encodes until the session ends)."""
    yield
    for server in _STARTED:
        if server.thread.is_alive():
            server.finish_recordings()


@pytest.fixture(scope="session")
def live_server(server_factory: ServerFactory) -> LiveServer:
    """The server shared by the API tests (don't move its clock by more than an hour)."""
    return server_factory(**LIVE_SERVER_SETTINGS)


@pytest.fixture
def tenant(live_server: LiveServer) -> Tenant:
    """A new developer with one app and an access_token, on the shared server."""
    return live_server.tenant()


# ---- media ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def nms() -> Iterator[MediaServer]:
    with MediaServer() as server:
        yield server


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
