"""The access_token of a client: made from dev_id and secret with the TokenGenerator, renewed in time."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from cloudrec.api.schemas import AccessTokenReply, AccessTokenResult
from cloudrec.auth import generate_token
from cloudrec.client._calls import Call

# A developer token is used once, at once, to get an access_token: a short life limits its replay.
DEVELOPER_TOKEN_TTL_S = 300
# Renew this long before the access_token's `timeout` (at most this share of its life), so that no
# call carries one that is about to expire.
RENEW_MARGIN_S = 60.0
RENEW_MARGIN_SHARE = 0.1


@dataclass(frozen=True)
class Credentials:
    dev_id: str
    dev_secret: str

    def __repr__(self) -> str:  # the secret never shows in logs or tracebacks
        return f"Credentials(dev_id={self.dev_id!r}, dev_secret=***)"


class TokenState:
    """The current access_token and when it expires; `generation` grows with every new one.

    Without credentials (a client given an access_token) nothing can be renewed."""

    def __init__(
        self,
        credentials: Credentials | None,
        access_token: str | None,
        clock: Callable[[], float],
        token_ttl_s: int = DEVELOPER_TOKEN_TTL_S,
    ) -> None:
        if credentials is None and access_token is None:
            raise ValueError("give dev_id and dev_secret, or an access_token")
        self.credentials = credentials
        self.clock = clock
        self.token_ttl_s = token_ttl_s
        self._token = access_token
        self._renew_at = float("inf")
        self._lock = threading.Lock()

    @property
    def renewable(self) -> bool:
        return self.credentials is not None

    def current(self) -> str | None:
        """The access_token to send, or None when a new one is needed first."""
        with self._lock:
            if self._token is not None and self.clock() < self._renew_at:
                return self._token
            return None if self.renewable else self._token

    def expire(self, token: str | None) -> None:
        """The server said `token` expired: the next call gets a new one (unless one came meanwhile)."""
        with self._lock:
            if token == self._token and self.renewable:
                self._token = None

    def exchange(self) -> Call[AccessTokenReply]:
        """`GET /access/token` with a fresh developer token (the TokenGenerator)."""
        creds = self.credentials
        if creds is None:
            raise ValueError("this client has no dev_id and dev_secret: it cannot get an access_token")
        token = generate_token(creds.dev_id, creds.dev_secret, self.token_ttl_s, now=self.clock())
        return Call("GET", "/access/token", AccessTokenReply, authorization=f"{creds.dev_id}.{token}")

    def accept(self, reply: AccessTokenReply, asked_at: float) -> AccessTokenResult:
        """Keep the access_token of an exchange that was sent at `asked_at`."""
        with self._lock:
            self._token = reply.result.access_token
            timeout = reply.result.timeout
            self._renew_at = asked_at + timeout - min(RENEW_MARGIN_S, timeout * RENEW_MARGIN_SHARE)
        return reply.result
