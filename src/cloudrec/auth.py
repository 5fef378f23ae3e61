"""Developer tokens (the TokenGenerator) and access-token hashing: HMAC-SHA256, no `.` in a token."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time


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


def token_expiry(token: str) -> int | None:
    """The expiry of a well-formed token, else None."""
    parts = token.split("-")
    if len(parts) != 3 or not parts[0].isdigit():
        return None
    return int(parts[0])


def verify_token(dev_id: str, token: str, dev_secret: str, now: float) -> bool:
    """True when `token` was made by `dev_secret` for `dev_id` and has not expired."""
    parts = token.split("-")
    if len(parts) != 3 or not parts[0].isdigit():
        return False
    expires, nonce, sig = int(parts[0]), parts[1], parts[2]
    if expires < now:
        return False
    return hmac.compare_digest(_signature(dev_id, expires, nonce, dev_secret), sig)


def new_access_token() -> str:
    """32 hex characters."""
    return secrets.token_hex(16)


def hash_access_token(token: str) -> str:
    """What the database keeps of an access token (never the token itself)."""
    return hashlib.sha256(token.encode()).hexdigest()
