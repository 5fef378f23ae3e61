"""FastAPI dependencies: the context, a DB session, the authenticated developer, owned request models.

Order of checks for every `/v1` call: access token (6050030006/6050030007/606000001), then the body
or query (6050030005/6050030003), then the ownership of `app_id` (6050030007).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader
from pydantic import BaseModel
from sqlalchemy.orm import Session

from cloudrec.api.parsing import parse_json, read_body, validate
from cloudrec.api.security import developer_of, require_app
from cloudrec.context import AppContext


def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


CtxDep = Annotated[AppContext, Depends(get_ctx)]


def new_request_slots(ctx: AppContext) -> asyncio.Semaphore:
    """The semaphore of `get_session`: `ctx.request_slots` requests use the database at once."""
    return asyncio.Semaphore(ctx.request_slots)


async def get_session(request: Request, ctx: CtxDep) -> AsyncIterator[Session]:
    """The request's database session, once one of the request slots is free.

    FastAPI runs the sync steps of a request (authentication, ownership, the endpoint) one after another
    in its worker threads, and a session keeps its pooled connection from its first query to its end, also
    while the request waits for a thread. Unbounded, more requests at once than the pool has connections
    fill every worker thread with a wait for a connection that the requests holding one cannot give back
    (they wait for a thread): the server stalls until the pool times out and answers 500s. Bounded, the
    requests beyond the slots wait here, in the event loop, holding neither a thread nor a connection.
    """
    slots: asyncio.Semaphore = request.app.state.request_slots
    async with slots:
        session = ctx.sessions()
        try:
            yield session
        finally:
            await run_in_threadpool(session.close)


SessionDep = Annotated[Session, Depends(get_session)]

access_token_header = APIKeyHeader(
    name="Authorization",
    scheme_name="AccessToken",
    description="the access_token of GET /access/token",
    auto_error=False,
)


def current_developer(
    ctx: CtxDep, session: SessionDep, authorization: Annotated[str | None, Depends(access_token_header)]
) -> str:
    return developer_of(session, ctx.clock, authorization)


DevId = Annotated[str, Depends(current_developer)]


class HasAppId(Protocol):
    @property
    def app_id(self) -> str: ...


M = TypeVar("M", bound=BaseModel)
R = TypeVar("R", bound=HasAppId)


def json_body(model: type[M]) -> Callable[[Request], Awaitable[M]]:
    """A dependency: the JSON body validated as `model` (whatever the Content-Type says)."""

    async def parse(request: Request) -> M:
        return validate(model, parse_json(await read_body(request)))

    return parse


def _owned(request_param: Any) -> Callable[..., Any]:
    """A dependency: authenticate, then read the request (`request_param`), then check its app's owner."""

    def dependency(dev_id: str, session: Session, request: Any) -> Any:
        require_app(session, dev_id, request.app_id)
        return request

    # FastAPI reads what to inject from the signature; these types are only known at run time.
    params = inspect.signature(dependency).parameters
    dependency.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            params["dev_id"].replace(annotation=DevId),
            params["session"].replace(annotation=SessionDep),
            params["request"].replace(annotation=request_param),
        ]
    )
    return dependency


def owned(parse: Callable[[Request], Awaitable[R]]) -> Callable[..., R]:
    """Owned request read by `parse` (e.g. a body that may be JSON or a form)."""
    return _owned(Annotated[Any, Depends(parse)])


def owned_body(model: type[M]) -> Callable[..., M]:
    """Owned JSON body validated as `model`."""
    return _owned(Annotated[Any, Depends(json_body(model))])


def owned_query(model: type[M]) -> Callable[..., M]:
    """Owned query parameters validated as `model`."""
    return _owned(Annotated[model, Query()])
