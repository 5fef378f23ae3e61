"""`Client`: the blocking client (httpx.Client)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Self, TypeVar

import httpx
from pydantic import BaseModel

from cloudrec.client._auth import DEVELOPER_TOKEN_TTL_S
from cloudrec.client._base import DEFAULT_BASE_URL, DEFAULT_TIMEOUT_S, BaseClient
from cloudrec.client._calls import Call, check_file, reply_of, request
from cloudrec.client._errors import ApiError, TransportError
from cloudrec.client._models import AccessTokenResult

T = TypeVar("T", bound=BaseModel)


class Client(BaseClient):
    """A blocking client of a cloudrec server; safe to share between threads.

    ``Client(base_url, dev_id=..., dev_secret=..., app_id=...)`` makes its developer tokens with the
    TokenGenerator, exchanges them for access_tokens and renews those in time (and once more when
    the server answers 606000001). ``Client(base_url, access_token=...)`` uses a given access_token.
    Every endpoint is a method returning its typed reply; contract errors raise `ApiError`s.
    `http`: an httpx.Client of your own (its base_url, TLS, proxies) instead of one made here."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        dev_id: str | None = None,
        dev_secret: str | None = None,
        access_token: str | None = None,
        app_id: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        clock: Callable[[], float] = time.time,
        token_ttl_s: int = DEVELOPER_TOKEN_TTL_S,
        http: httpx.Client | None = None,
    ) -> None:
        super().__init__(
            dev_id=dev_id,
            dev_secret=dev_secret,
            access_token=access_token,
            app_id=app_id,
            clock=clock,
            token_ttl_s=token_ttl_s,
        )
        self._http = http if http is not None else httpx.Client(base_url=base_url, timeout=timeout)
        self._owns_http = http is None
        self._renewing = threading.Lock()

    def renew(self) -> AccessTokenResult:
        """Exchange a new developer token for a new access_token now (calls do it by themselves)."""
        with self._renewing:
            return self._renew()

    def fetch(self, url: str) -> bytes:
        """The bytes of a signed file URL (`download_urls`); an expired link raises its ApiError."""
        return check_file(self._send(self._http.build_request("GET", url)))

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ---- transport ------------------------------------------------------------------------------

    def _call(self, call: Call[T]) -> T:
        first = True
        while True:
            token = self._access_token() if call.authorization is None else None
            response = self._send(request(self._http, call, token))
            try:
                return reply_of(call, response)
            except ApiError as error:
                if not self._again(error, first):
                    raise
                self._auth.expire(token)
                first = False

    def _access_token(self) -> str:
        token = self._auth.current()
        if token is not None:
            return token
        with self._renewing:
            token = self._auth.current()  # another thread may have renewed it meanwhile
            return token if token is not None else self._renew().access_token

    def _renew(self) -> AccessTokenResult:
        asked_at = self._auth.clock()
        return self._auth.accept(self._call(self._auth.exchange()), asked_at)

    def _send(self, req: httpx.Request) -> httpx.Response:
        try:
            return self._http.send(req)
        except httpx.HTTPError as exc:
            raise TransportError(f"{req.method} {req.url.path}: {type(exc).__name__}: {exc}") from exc
