"""`AsyncClient`: the asyncio client (httpx.AsyncClient); the same methods, as coroutines."""

from __future__ import annotations

import asyncio
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


class AsyncClient(BaseClient):
    """The asyncio twin of `Client`: same arguments, every endpoint method a coroutine
    (``await client.init(...)``), ``async with`` to close it. Use it from one event loop."""

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
        http: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(
            dev_id=dev_id,
            dev_secret=dev_secret,
            access_token=access_token,
            app_id=app_id,
            clock=clock,
            token_ttl_s=token_ttl_s,
        )
        self._http = http if http is not None else httpx.AsyncClient(base_url=base_url, timeout=timeout)
        self._owns_http = http is None
        self._renewing = asyncio.Lock()

    async def renew(self) -> AccessTokenResult:
        """Exchange a new developer token for a new access_token now (calls do it by themselves)."""
        async with self._renewing:
            return await self._renew()

    async def fetch(self, url: str) -> bytes:
        """The bytes of a signed file URL (`download_urls`); an expired link raises its ApiError."""
        return check_file(await self._send(self._http.build_request("GET", url)))

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # ---- transport ------------------------------------------------------------------------------

    async def _acall(self, call: Call[T]) -> T:
        first = True
        while True:
            token = await self._access_token() if call.authorization is None else None
            response = await self._send(request(self._http, call, token))
            try:
                return reply_of(call, response)
            except ApiError as error:
                if not self._again(error, first):
                    raise
                self._auth.expire(token)
                first = False

    async def _access_token(self) -> str:
        token = self._auth.current()
        if token is not None:
            return token
        async with self._renewing:
            token = self._auth.current()  # another task may have renewed it meanwhile
            return token if token is not None else (await self._renew()).access_token

    async def _renew(self) -> AccessTokenResult:
        asked_at = self._auth.clock()
        return self._auth.accept(await self._acall(self._auth.exchange()), asked_at)

    async def _send(self, req: httpx.Request) -> httpx.Response:
        try:
            return await self._http.send(req)
        except httpx.HTTPError as exc:
            raise TransportError(f"{req.method} {req.url.path}: {type(exc).__name__}: {exc}") from exc
