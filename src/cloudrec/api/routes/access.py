"""`GET /access/token`: a developer's token (TokenGenerator) exchanged for an access_token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.security import APIKeyHeader

from cloudrec.api.deps import CtxDep, SessionDep
from cloudrec.api.schemas import AccessTokenReply, AccessTokenResult, ErrorReply
from cloudrec.api.security import developer_credentials, issue_access_token

router = APIRouter(tags=["access"])

developer_token_header = APIKeyHeader(
    name="Authorization",
    scheme_name="DeveloperToken",
    description="<dev_id>.<token>, the token made by the TokenGenerator",
    auto_error=False,
)


@router.get("/access/token", response_model=AccessTokenReply | ErrorReply)
def access_token(
    ctx: CtxDep,
    session: SessionDep,
    authorization: Annotated[str | None, Depends(developer_token_header)],
    dev_id: Annotated[str | None, Query(description="the developer (when no Authorization header)")] = None,
    token: Annotated[
        str | None, Query(description="the developer's token (when no Authorization header)")
    ] = None,
) -> AccessTokenReply:
    """Bad or expired token → 6050030028."""
    dev, tok = developer_credentials(authorization, dev_id, token)
    issued = issue_access_token(session, ctx.clock, ctx.settings.access_token_ttl_s, dev, tok)
    return AccessTokenReply(result=AccessTokenResult(timeout=issued.ttl_s, access_token=issued.access_token))
