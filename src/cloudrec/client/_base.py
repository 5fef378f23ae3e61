"""What `Client` and `AsyncClient` share: credentials, the default app, and when a call is sent again."""

from __future__ import annotations

import time
from collections.abc import Callable

from cloudrec.client._auth import DEVELOPER_TOKEN_TTL_S, Credentials, TokenState
from cloudrec.client._endpoints import Endpoints
from cloudrec.client._errors import AccessTokenTimeout, ApiError

DEFAULT_BASE_URL = "http://127.0.0.1:28000"  # the contract's default port
DEFAULT_TIMEOUT_S = 30.0  # finish waits up to CLOUDREC_FINISH_WAIT_S (5 s) for the recorder's figures


class BaseClient(Endpoints):
    """Credentials (dev_id and dev_secret, renewed access_tokens; or a fixed access_token) and the
    app_id that calls use when they are given none."""

    def __init__(
        self,
        *,
        dev_id: str | None,
        dev_secret: str | None,
        access_token: str | None,
        app_id: str | None,
        clock: Callable[[], float] = time.time,
        token_ttl_s: int = DEVELOPER_TOKEN_TTL_S,
    ) -> None:
        if (dev_id is None) != (dev_secret is None):
            raise ValueError("dev_id and dev_secret: give both (or neither, with an access_token)")
        credentials = (
            Credentials(dev_id, dev_secret) if dev_id is not None and dev_secret is not None else None
        )
        self.app_id = app_id
        self._auth = TokenState(credentials, access_token, clock, token_ttl_s)

    def _again(self, error: ApiError, first: bool) -> bool:
        """Whether a call that failed with `error` is sent once more, with a new access_token."""
        return first and isinstance(error, AccessTokenTimeout) and self._auth.renewable

    def __repr__(self) -> str:
        creds = self._auth.credentials
        who = f"dev_id={creds.dev_id!r}" if creds is not None else "access_token=***"
        return f"{type(self).__name__}({who}, app_id={self.app_id!r})"
