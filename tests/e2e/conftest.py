"""Fixtures of the end-to-end tests: a real media server, publishers, and a real cloudrec server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api.harness import DatabaseFactory, Tenant, start_server
from support.server import E2E_SETTINGS


@pytest.fixture
def tenant(databases: DatabaseFactory, tmp_path: Path) -> Iterator[Tenant]:
    """A developer with an app on a fresh server that records in real time (short segments)."""
    live = start_server(tmp_path / "data", databases.new_url(), real_time=True, **E2E_SETTINGS)
    try:
        yield live.tenant()
    finally:
        live.stop()
