"""Developer tokens → access tokens (`GET /access/token`), access tokens → developer, app ownership."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from cachetools import LRUCache, TLRUCache
from sqlalchemy import delete
from sqlalchemy.orm import Session

from cloudrec.auth import Verdict, check_token, hash_access_token, is_cloudrec_token, new_access_token
from cloudrec.clock import Clock
from cloudrec.config import Settings
from cloudrec.db.models import AccessToken, App, Developer
from cloudrec.errors import AuthenticationError, AuthFailed, NotLoggedIn, ParamError, TokenTimeout
from cloudrec.secretbox import SecretBox, SecretBoxError
from cloudrec.vendortoken import MAX_TOKEN_CHARS, check_vendor_token, is_vendor_token

log = logging.getLogger(__name__)

# Expired access tokens are kept this long, so that their use answers "timeout", not "unknown".
EXPIRED_TOKEN_GRACE_S = 7 * 86400


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    ttl_s: int


MAX_DEV_ID_CHARS = 64  # the column's length
# Every part of the credentials is bounded before it is parsed.
MAX_CREDENTIALS_CHARS = MAX_DEV_ID_CHARS + 1 + MAX_TOKEN_CHARS

TOO_LONG = "authentication failed: dev_id or token is too long"
REFUSALS = {
    Verdict.INVALID: "authentication failed: bad dev_id or token",
    Verdict.EXPIRED: "authentication failed: the token has expired",
    Verdict.TOO_LONG: "authentication failed: the token claims a validity beyond the server's limit",
    Verdict.NOT_YET: "authentication failed: the token was made in the future (check the clock)",
}


@dataclass(frozen=True)
class TokenRules:
    """How long developer tokens may live (`CLOUDREC_TOKEN_TTL_S`, `CLOUDREC_TOKEN_MAX_TTL_S`)."""

    lifetime_s: int  # a vendor token at most this long after its `ts`
    max_ttl_s: int  # no token valid longer than this from now

    @classmethod
    def of(cls, settings: Settings) -> TokenRules:
        return cls(settings.token_ttl_s, settings.token_max_ttl_s)


def developer_credentials(
    authorization: str | None, dev_id: str | None, token: str | None
) -> tuple[str, str]:
    """(dev_id, token) from `Authorization: <dev_id>.<token>`, else from the query parameters."""
    if authorization is not None and authorization.strip():
        if len(authorization) > MAX_CREDENTIALS_CHARS:
            raise AuthenticationError(TOO_LONG)
        dev, dot, tok = authorization.strip().rpartition(".")
        if not dot or not dev or not tok:
            raise AuthenticationError("authentication failed: Authorization must be <dev_id>.<token>")
        return dev, tok
    if not dev_id:
        raise ParamError("dev_id is required (or the header Authorization: <dev_id>.<token>)")
    if not token:
        raise ParamError("token is required (or the header Authorization: <dev_id>.<token>)")
    if len(dev_id) > MAX_DEV_ID_CHARS or len(token) > MAX_TOKEN_CHARS:
        raise AuthenticationError(TOO_LONG)
    return dev_id, token


def token_verdict(dev_id: str, token: str, dev_secret: str, now: float, rules: TokenRules) -> Verdict:
    """A developer token of either format (cloudrec's HMAC token, or the vendor's) checked."""
    if is_cloudrec_token(token):
        return check_token(dev_id, token, dev_secret, now, rules.max_ttl_s)
    if is_vendor_token(token):
        return check_vendor_token(dev_id, token, dev_secret, now, rules.lifetime_s, rules.max_ttl_s)
    return Verdict.INVALID


def authenticate_developer(
    session: Session, box: SecretBox, rules: TokenRules, now: float, dev_id: str, token: str
) -> None:
    """Nothing when `token` is a valid developer token of `dev_id` now; AuthenticationError otherwise
    (expired, too long or not yet valid told apart only for a genuine token)."""
    bad_id = "\x00" in dev_id or len(dev_id) > MAX_DEV_ID_CHARS
    dev = None if bad_id else session.get(Developer, dev_id)
    verdict = Verdict.INVALID
    if dev is not None:
        try:
            secret = box.open("developer", dev_id, dev.secret)
        except SecretBoxError:
            # a database copied without its key, or another key configured: the operator must know
            log.error("the secret of developer %r does not open with this server's secrets key", dev_id)
        else:
            verdict = token_verdict(dev_id, token, secret, now, rules)
    if verdict is not Verdict.VALID:
        log.info("developer token refused for %r (%s)", dev_id[:MAX_DEV_ID_CHARS], verdict.value)
        raise AuthenticationError(REFUSALS[verdict])


def issue_access_token(
    session: Session,
    clock: Clock,
    ttl_s: int,
    dev_id: str,
    token: str,
    box: SecretBox,
    rules: TokenRules,
) -> IssuedToken:
    """A new access_token for a developer whose token (TokenGenerator, or the vendor's) is valid now."""
    now = clock.time()
    authenticate_developer(session, box, rules, now, dev_id, token)
    access = new_access_token()
    session.execute(delete(AccessToken).where(AccessToken.expires_at < now - EXPIRED_TOKEN_GRACE_S))
    session.add(
        AccessToken(
            token_hash=hash_access_token(access), dev_id=dev_id, created_at=now, expires_at=now + ttl_s
        )
    )
    session.commit()
    return IssuedToken(access, ttl_s)


def bearer_token(authorization: str | None) -> str:
    """The access_token of an `Authorization` header (`<token>` or `Bearer <token>`)."""
    token = (authorization or "").strip()
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    if not token:
        raise NotLoggedIn("not logged in: the Authorization header must carry an access_token")
    return token


@dataclass(frozen=True)
class Grant:
    """What an access token stands for: its developer, until `expires_at` (Unix seconds)."""

    dev_id: str
    expires_at: float


def grant_of(session: Session, token_hash: str) -> Grant:
    """The grant of the access token whose hash is `token_hash`, expired or not."""
    row = session.get(AccessToken, token_hash)
    if row is None:
        raise AuthFailed("authorisation failed: unknown access_token")
    return Grant(row.dev_id, row.expires_at)


def owner_of(session: Session, app_id: str) -> str | None:
    """The dev_id that owns app `app_id`; None when there is no such app."""
    app = session.get(App, app_id)
    return None if app is None else app.dev_id


class Verified:
    """Facts the database confirmed, kept so that a request need not ask it again; bounded, least recently
    used dropped first. Both are immutable once written: access tokens are never revoked (a grant is kept
    until it expires, and expiry is still checked on each use) and apps never change owner. Unknown tokens
    and apps are not kept: they may be created later. Not thread-safe: used from the event loop only."""

    SIZE = 4096

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.grants: TLRUCache[str, Grant] = TLRUCache(
            self.SIZE, ttu=lambda _hash, grant, _now: grant.expires_at, timer=clock.time
        )
        self.owners: LRUCache[str, str] = LRUCache(self.SIZE)

    def developer(self, grant: Grant) -> str:
        """The grant's developer, if it has not expired yet."""
        if grant.expires_at <= self.clock.time():
            raise TokenTimeout("access_token timeout")
        return grant.dev_id


def require_owner(owner: str | None, dev_id: str, app_id: str) -> None:
    """Refuse an app the developer does not own; an app that does not exist is refused the same way."""
    if owner != dev_id:
        raise AuthFailed(f"authorisation failed: app_id {app_id!r} is not an app of this developer")
