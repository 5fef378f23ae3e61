"""Developer tokens → access tokens (`GET /access/token`), access tokens → developer, app ownership."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy.orm import Session

from cloudrec.auth import hash_access_token, new_access_token, verify_token
from cloudrec.clock import Clock
from cloudrec.db.models import AccessToken, App, Developer
from cloudrec.errors import AuthenticationError, AuthFailed, NotLoggedIn, ParamError, TokenTimeout

log = logging.getLogger(__name__)

# Expired access tokens are kept this long, so that their use answers "timeout", not "unknown".
EXPIRED_TOKEN_GRACE_S = 7 * 86400


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    ttl_s: int


def developer_credentials(
    authorization: str | None, dev_id: str | None, token: str | None
) -> tuple[str, str]:
    """(dev_id, token) from `Authorization: <dev_id>.<token>`, else from the query parameters."""
    if authorization is not None and authorization.strip():
        dev, dot, tok = authorization.strip().rpartition(".")
        if not dot or not dev or not tok:
            raise AuthenticationError("authentication failed: Authorization must be <dev_id>.<token>")
        return dev, tok
    if not dev_id:
        raise ParamError("dev_id is required (or the header Authorization: <dev_id>.<token>)")
    if not token:
        raise ParamError("token is required (or the header Authorization: <dev_id>.<token>)")
    return dev_id, token


def issue_access_token(session: Session, clock: Clock, ttl_s: int, dev_id: str, token: str) -> IssuedToken:
    """A new access_token for a developer whose token (TokenGenerator) is valid now."""
    now = clock.time()
    dev = None if "\x00" in dev_id or len(dev_id) > 64 else session.get(Developer, dev_id)
    if dev is None or not verify_token(dev_id, token, dev.secret, now):
        # Tell an expired token apart, but only when it is genuine (its signature is right).
        expired = dev is not None and verify_token(dev_id, token, dev.secret, float("-inf"))
        log.info("developer token refused for %r (%s)", dev_id[:64], "expired" if expired else "invalid")
        raise AuthenticationError(
            "authentication failed: the token has expired"
            if expired
            else "authentication failed: bad dev_id or token"
        )
    access = new_access_token()
    session.execute(delete(AccessToken).where(AccessToken.expires_at < now - EXPIRED_TOKEN_GRACE_S))
    session.add(
        AccessToken(
            token_hash=hash_access_token(access), dev_id=dev_id, created_at=now, expires_at=now + ttl_s
        )
    )
    session.commit()
    return IssuedToken(access, ttl_s)


def developer_of(session: Session, clock: Clock, authorization: str | None) -> str:
    """The dev_id whose access_token the request carries."""
    token = (authorization or "").strip()
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    if not token:
        raise NotLoggedIn("not logged in: the Authorization header must carry an access_token")
    row = session.get(AccessToken, hash_access_token(token))
    if row is None:
        raise AuthFailed("authorisation failed: unknown access_token")
    if row.expires_at <= clock.time():
        raise TokenTimeout("access_token timeout")
    return row.dev_id


def require_app(session: Session, dev_id: str, app_id: str) -> App:
    """The app, when it belongs to the developer; any other app_id is refused the same way."""
    app = session.get(App, app_id)
    if app is None or app.dev_id != dev_id:
        raise AuthFailed(f"authorisation failed: app_id {app_id!r} is not an app of this developer")
    return app
