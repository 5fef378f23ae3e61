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
from cloudrec.api.security import Verified, bearer_token, grant_of, owner_of, require_owner
from cloudrec.auth import hash_access_token
from cloudrec.context import AppContext


async def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


async def get_verified(request: Request) -> Verified:
    verified: Verified = request.app.state.verified
    return verified


CtxDep = Annotated[AppContext, Depends(get_ctx)]
VerifiedDep = Annotated[Verified, Depends(get_verified)]


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
            if session.in_transaction():  # it holds a connection: giving it back may wait for the database
                await run_in_threadpool(session.close)
            else:
                session.close()


SessionDep = Annotated[Session, Depends(get_session)]

access_token_header = APIKeyHeader(
    name="Authorization",
    scheme_name="AccessToken",
    description="the access_token of GET /access/token",
    auto_error=False,
)


async def current_developer(
    ctx: CtxDep,
    verified: VerifiedDep,
    session: SessionDep,
    authorization: Annotated[str | None, Depends(access_token_header)],
) -> str:
    """The developer whose access_token the request carries (the database is asked once per token;
    profile hst asks it every time: a newer access_token revokes the older ones)."""
    token_hash = hash_access_token(bearer_token(authorization))
    grant = None if ctx.settings.compat == "hst" else verified.grants.get(token_hash)
    if grant is None:
        grant = await run_in_threadpool(grant_of, session, token_hash)
        verified.grants[token_hash] = grant  # an expired grant is not kept
    return verified.developer(grant)


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

    async def dependency(verified: Verified, dev_id: str, session: Session, request: Any) -> Any:
        app_id: str = request.app_id
        owner = verified.owners.get(app_id)
        if owner is None:
            owner = await run_in_threadpool(owner_of, session, app_id)
            if owner is not None:
                verified.owners[app_id] = owner
        require_owner(owner, dev_id, app_id)
        return request

    # FastAPI reads what to inject from the signature; these types are only known at run time.
    params = inspect.signature(dependency).parameters
    dependency.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            params["verified"].replace(annotation=VerifiedDep),
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
