"""`GET /server/address`: the vendor's service discovery; every service it names is this server."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from cloudrec.api.deps import CtxDep
from cloudrec.api.schemas import ErrorReply
from cloudrec.api.schemas_vendor import ServerAddressQuery, ServerAddressReply

router = APIRouter(tags=["discovery"])


@router.get("/server/address", response_model=ServerAddressReply | ErrorReply)
def server_address(query: Annotated[ServerAddressQuery, Query()], ctx: CtxDep) -> ServerAddressReply:
    """The public base URL of the recording API (appType 10) or the event gateway (appType 8): both here.
    No access_token: clients ask before they have one."""
    return ServerAddressReply(result=ctx.settings.base_url)
