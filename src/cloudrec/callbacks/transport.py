"""An httpx transport that connects only where the webhook egress policy allows, on the address checked."""

from __future__ import annotations

from collections.abc import Iterable

import httpcore
import httpx

from cloudrec.egress import EgressPolicy, EgressRefused, resolve_checked


class CheckedBackend(httpcore.NetworkBackend):
    """Resolves the host itself, refuses it unless every address passes the policy, and connects to
    one of those addresses: a name that resolves differently a moment later (DNS rebinding) cannot
    move the connection. TLS still verifies the URL's host name (httpcore sends it as SNI)."""

    def __init__(self, policy: EgressPolicy) -> None:
        self.policy = policy
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = resolve_checked(host, port, self.policy)
        except EgressRefused as exc:
            raise httpcore.ConnectError(f"refused by the egress policy: {exc}") from None
        error: Exception | None = None
        for address in addresses:
            try:
                return self._inner.connect_tcp(str(address), port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("webhooks connect over TCP only")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class CheckedTransport(httpx.HTTPTransport):
    """httpx's transport (no proxy) over a CheckedBackend."""

    def __init__(self, policy: EgressPolicy) -> None:
        super().__init__()
        # httpx builds its pool without a way to pass a network backend: the same pool, with one.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=100,
            max_keepalive_connections=20,
            network_backend=CheckedBackend(policy),
        )
