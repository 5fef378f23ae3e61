"""HMAC signatures of download URLs: what is signed is the storage key and the expiry time."""

from __future__ import annotations

import hashlib
import hmac


def sign(key: str, expires: int, secret: str) -> str:
    msg = f"{key}\n{expires}".encode()
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()


def verify(key: str, expires: int, signature: str, secret: str, now: float) -> bool:
    if expires < now:
        return False
    return hmac.compare_digest(sign(key, expires, secret), signature)
