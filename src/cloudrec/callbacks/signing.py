"""HMAC-SHA256 signatures of callback requests, and the per-app callback secret."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

SIGNATURE_PREFIX = "sha256="


def new_secret() -> str:
    """A fresh callback secret (shown to the developer once)."""
    return "whsec_" + secrets.token_hex(32)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex of HMAC-SHA256(secret, timestamp + "." + body)>`."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return SIGNATURE_PREFIX + mac.hexdigest()


def verify(
    secret: str, timestamp: str, body: bytes, sig: str, tolerance_s: float = 300, now: float | None = None
) -> bool:
    """Whether `sig` signs `body` at `timestamp` with `secret`, and the timestamp is recent enough."""
    try:
        age = abs((time.time() if now is None else now) - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance_s and hmac.compare_digest(signature(secret, timestamp, body), sig)
