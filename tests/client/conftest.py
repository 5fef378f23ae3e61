"""Fixtures of the client tests: `Client`s of a tenant of the shared real server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from api.harness import Tenant

from cloudrec.client import Client


def client_of(tenant: Tenant, **kwargs: Any) -> Client:
    """A client with the tenant's credentials and app, minting tokens at the server's (manual) time."""
    server = tenant.server
    options: dict[str, Any] = {
        "dev_id": tenant.dev_id,
        "dev_secret": tenant.dev_secret,
        "app_id": tenant.app_id,
        "clock": server.clock.time,
        **kwargs,
    }
    return Client(server.base_url, **options)


@pytest.fixture
def client(tenant: Tenant) -> Iterator[Client]:
    with client_of(tenant) as c:
        yield c
