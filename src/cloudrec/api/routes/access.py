"""`GET /access/token`: a developer's token (TokenGenerator) exchanged for an access_token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.security import APIKeyHeader
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cloudrec.api.deps import CtxDep, SessionDep
from cloudrec.api.schemas import AccessTokenReply, AccessTokenResult, ErrorReply
from cloudrec.api.security import TokenRules, developer_credentials, issue_access_token
from cloudrec.api.throttle import AuthThrottle
from cloudrec.auth import hash_access_token
from cloudrec.db.models import AccessToken
from cloudrec.errors import AuthenticationError

router = APIRouter(tags=["access"])

developer_token_header = APIKeyHeader(
    name="Authorization",
    scheme_name="DeveloperToken",
    description="<dev_id>.<token>: the token of the TokenGenerator (cloudrec's, or the vendor's `001...`)",
    auto_error=False,
)


@router.get("/access/token", response_model=AccessTokenReply | ErrorReply)
def access_token(
    request: Request,
    ctx: CtxDep,
    session: SessionDep,
    authorization: Annotated[str | None, Depends(developer_token_header)],
    dev_id: Annotated[str | None, Query(description="the developer (when no Authorization header)")] = None,
    token: Annotated[
        str | None, Query(description="the developer's token (when no Authorization header)")
    ] = None,
) -> AccessTokenReply:
    """Bad or expired token → 6050030028; so is every attempt of a dev_id or client address with too many
    failed attempts in the last minute (`CLOUDREC_AUTH_MAX_FAILURES`)."""
    throttle: AuthThrottle = request.app.state.auth_throttle
    address = request.client.host if request.client else ""
    try:
        dev, tok = developer_credentials(authorization, dev_id, token)
    except AuthenticationError:  # malformed credentials count as a failed attempt too
        throttle.check(dev_id or "", address)
        throttle.failed(dev_id or "", address)
        raise
    throttle.check(dev, address)
    settings = ctx.settings
    try:
        issued = issue_access_token(
            session,
            ctx.clock,
            settings.access_token_ttl_s,
            dev,
            tok,
            settings.secret_box,
            TokenRules.of(settings),
        )
    except AuthenticationError:
        throttle.failed(dev, address)
        raise
    if settings.compat == "hst":
        revoke_earlier_tokens(session, dev, issued.access_token)
    return AccessTokenReply(result=AccessTokenResult(timeout=issued.ttl_s, access_token=issued.access_token))


def revoke_earlier_tokens(session: Session, dev_id: str, access_token: str) -> None:
    """Profile hst: a developer has one live access_token, the newest; those issued before it are gone.

    Requests of profile hst look every access_token up in the database (`deps.current_developer`), so
    the revocation holds in every server process at once. Only tokens issued before this one go: of two
    fetched at the same moment, the later one survives, never neither."""
    mine = hash_access_token(access_token)
    issued_at = session.scalar(select(AccessToken.created_at).where(AccessToken.token_hash == mine))
    if issued_at is None:
        return
    session.execute(
        delete(AccessToken).where(
            AccessToken.dev_id == dev_id,
            AccessToken.token_hash != mine,
            AccessToken.created_at <= issued_at,
        )
    )
    session.commit()
