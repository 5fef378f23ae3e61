"""Fixtures of the API suite (the shared ones are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from api.harness import LiveServer


@pytest.fixture(autouse=True)
def _finish_recordings(live_server: LiveServer) -> Iterator[None]:
    """After each test, finish what its tenants still record: the shared server's slots stay free."""
    yield
    live_server.finish_recordings()
