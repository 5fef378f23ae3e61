"""Developer tokens (the TokenGenerator) and access-token hashing: HMAC-SHA256, no `.` in a token."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from enum import Enum

# `<expiry>-<nonce>-<signature>`, every part bounded: an expiry of 12 digits reaches the year 33658,
# and a longer digit string never reaches int() (whose cost grows with its length).
TOKEN_PATTERN = re.compile(r"(\d{1,12})-([0-9a-f]{1,64})-([0-9a-f]{64})")
# Clocks of the developer's server and of cloudrec disagree a little: the lifetime cap and a vendor
# token's `ts` allow this much.
CLOCK_SKEW_S = 300


class Verdict(Enum):
    """What checking a developer token found."""

    VALID = "valid"
    INVALID = "invalid"  # malformed, or not made with this secret for this dev_id
    EXPIRED = "expired"
    TOO_LONG = "too long"  # claims a validity beyond the operator's cap
    NOT_YET = "not yet valid"  # made in the future (a vendor token's `ts`)


def _signature(dev_id: str, expires: int, nonce: str, dev_secret: str) -> str:
    msg = f"{dev_id}\n{expires}\n{nonce}".encode()
    return hmac.new(dev_secret.encode(), msg, hashlib.sha256).hexdigest()


def generate_token(dev_id: str, dev_secret: str, ttl_s: int = 86400, now: float | None = None) -> str:
    """The TokenGenerator: a token for `GET /access/token`, valid for `ttl_s` seconds.

    Send it as `Authorization: <dev_id>.<token>`. The token is `<expiry>-<nonce>-<signature>` (hex and
    decimal only, so it never contains a `.`)."""
    expires = int((time.time() if now is None else now) + ttl_s)
    nonce = secrets.token_hex(8)
    return f"{expires}-{nonce}-{_signature(dev_id, expires, nonce, dev_secret)}"


def is_cloudrec_token(token: str) -> bool:
    """Whether `token` has the shape of this module's tokens (made by `generate_token`)."""
    return TOKEN_PATTERN.fullmatch(token) is not None


def check_token(dev_id: str, token: str, dev_secret: str, now: float, max_ttl_s: float) -> Verdict:
    """Whether `token` was made by `dev_secret` for `dev_id`, has not expired, and claims no more than
    `max_ttl_s` seconds from now. Only a genuine token (its signature right) is told EXPIRED or TOO_LONG."""
    m = TOKEN_PATTERN.fullmatch(token)
    if m is None:
        return Verdict.INVALID
    expires, nonce, sig = int(m.group(1)), m.group(2), m.group(3)
    if not hmac.compare_digest(_signature(dev_id, expires, nonce, dev_secret), sig):
        return Verdict.INVALID
    if expires < now:
        return Verdict.EXPIRED
    if expires > now + max_ttl_s + CLOCK_SKEW_S:
        return Verdict.TOO_LONG
    return Verdict.VALID


def verify_token(dev_id: str, token: str, dev_secret: str, now: float) -> bool:
    """True when `token` was made by `dev_secret` for `dev_id` and has not expired (no lifetime cap)."""
    return check_token(dev_id, token, dev_secret, now, float("inf")) is Verdict.VALID


def new_access_token() -> str:
    """32 hex characters."""
    return secrets.token_hex(16)


def hash_access_token(token: str) -> str:
    """What the database keeps of an access token (never the token itself)."""
    return hashlib.sha256(token.encode()).hexdigest()
