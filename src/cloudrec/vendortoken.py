"""The vendor's developer tokens ("FspToken", version 001): AES-128-CBC of a small JSON, keyed by the secret.

```
"001" + Base64( AES-128-CBC( key = the 16-byte developer secret, IV = 00 01 .. 0f, no padding,
                             '{"aid":"<dev_id>","gid":"..","uid":"..",["et":<s>,]"ts":<ms>,"r":<int>}'
                             + spaces up to a multiple of 16 bytes ) )
```
No MAC: a token counts as genuine when it decrypts to JSON whose `aid` is the dev_id presented.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from cloudrec.auth import CLOCK_SKEW_S, Verdict

VERSION = "001"
KEY_BYTES = 16  # AES-128: the vendor's generators refuse a secret of another length
BLOCK_BYTES = 16
IV = bytes(range(BLOCK_BYTES))
# The JSON carries a dev_id and two ids of a few hundred characters at most; a token far longer is not
# one, and its size bounds the work (Base64, AES, JSON) spent on it.
MAX_TOKEN_CHARS = 4096
MAX_EPOCH_DIGITS = 20  # an epoch in a string: milliseconds need 13 digits until the year 2286


def is_vendor_token(token: str) -> bool:
    return token.startswith(VERSION)


def secret_key(dev_secret: str) -> bytes | None:
    """The AES key of a developer secret, or None when the secret cannot be one (not 16 bytes)."""
    key = dev_secret.encode("utf-8")
    return key if len(key) == KEY_BYTES else None


def _cipher(key: bytes) -> Cipher[modes.CBC]:
    return Cipher(algorithms.AES(key), modes.CBC(IV))


def _ciphertext(token: str) -> bytes | None:
    """The encrypted bytes of a token, in whichever Base64 variant it came: line breaks every 76
    characters, `+` turned into a space by a query string, the `=` padding dropped."""
    if len(token) > MAX_TOKEN_CHARS or not is_vendor_token(token):
        return None
    text = token[len(VERSION) :].replace("\r", "").replace("\n", "").replace(" ", "+")
    text += "=" * (-len(text) % 4)
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not raw or len(raw) % BLOCK_BYTES:
        return None
    return raw


def _claims(token: str, key: bytes) -> dict[str, Any] | None:
    raw = _ciphertext(token)
    if raw is None:
        return None
    decryptor = _cipher(key).decryptor()
    plain = (decryptor.update(raw) + decryptor.finalize()).rstrip(b" ")
    try:
        claims = json.loads(plain.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return claims if isinstance(claims, dict) else None


def _epoch(value: Any) -> int | None:
    """An epoch number of the JSON: an integer, or a string of ASCII digits (some generators quote)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and 0 < len(value) <= MAX_EPOCH_DIGITS and value.isascii() and value.isdigit():
        return int(value)
    return None


def check_vendor_token(
    dev_id: str, token: str, dev_secret: str, now: float, lifetime_s: float, max_ttl_s: float
) -> Verdict:
    """Whether `token` is the vendor's token of `dev_id` made with `dev_secret`: `aid` is `dev_id`, `et`
    (epoch seconds, optional) not passed and at most `max_ttl_s` ahead, `ts` (epoch ms) not in the future
    beyond the clock skew and at most `lifetime_s` old."""
    key = secret_key(dev_secret)
    claims = None if key is None else _claims(token, key)
    if claims is None or not isinstance(claims.get("aid"), str) or claims["aid"] != dev_id:
        return Verdict.INVALID
    if any(name in claims and not isinstance(claims[name], str | None) for name in ("gid", "uid")):
        return Verdict.INVALID
    ts_ms = _epoch(claims.get("ts"))
    expires = _epoch(claims["et"]) if "et" in claims else None
    if ts_ms is None or ("et" in claims and expires is None):
        return Verdict.INVALID
    if expires is not None:
        if expires < now:
            return Verdict.EXPIRED
        if expires > now + max_ttl_s + CLOCK_SKEW_S:
            return Verdict.TOO_LONG
    # compared in milliseconds: an int of any size against a float, exactly, never converted to one
    if ts_ms > (now + CLOCK_SKEW_S) * 1000:
        return Verdict.NOT_YET
    if ts_ms < (now - lifetime_s) * 1000:
        return Verdict.EXPIRED
    return Verdict.VALID


def generate_vendor_token(
    dev_id: str,
    dev_secret: str,
    ttl_s: int | None = None,
    now: float | None = None,
    group_id: str | None = None,
    user_id: str | None = None,
) -> str:
    """A token in the vendor's format (for `cloudrec token --format vendor`): `et` when `ttl_s` is given,
    `gid`/`uid` as the vendor's generators write them ("null" when not given)."""
    key = secret_key(dev_secret)
    if key is None:
        raise ValueError(f"a vendor token needs a secret of {KEY_BYTES} bytes")
    now = time.time() if now is None else now
    claims: dict[str, Any] = {
        "aid": dev_id,
        "gid": "null" if group_id is None else group_id,
        "uid": "null" if user_id is None else user_id,
    }
    if ttl_s is not None:
        claims["et"] = int(now + ttl_s)
    claims["ts"] = int(now * 1000)
    claims["r"] = secrets.randbelow(2**31)
    plain = json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    plain += b" " * (-len(plain) % BLOCK_BYTES)
    encryptor = _cipher(key).encryptor()
    return VERSION + base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode("ascii")
