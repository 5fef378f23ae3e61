"""Developer and callback secrets encrypted at rest: AES-256-GCM, the key kept beside the signing key."""

from __future__ import annotations

import base64
import binascii
import functools
import os
from typing import Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# The secrets must stay readable (they are HMAC and AES keys), so they are encrypted, not hashed. A
# stored value is `<PREFIX><urlsafe base64 of nonce + ciphertext + tag>`; the prefix names the scheme,
# so that a later one can be told apart.
PREFIX = "gcm1:"
KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # GCM's standard nonce, random per value (at most a few thousand values per key)

# Which secret a value is: bound into the ciphertext (associated data) with its owner's id, so that a
# value copied to another row or column does not open there.
SecretKind = Literal["developer", "callback"]


class SecretBoxError(ValueError):
    """A stored secret that this key cannot open (another key, a changed row, or never sealed)."""


def new_key() -> str:
    """A fresh key, as the hex kept in `secrets.key` (or `CLOUDREC_SECRETS_KEY`)."""
    return os.urandom(KEY_BYTES).hex()


class SecretBox:
    """Seals secrets for the database and opens them again: the one way code reads a stored secret."""

    def __init__(self, key_hex: str) -> None:
        try:
            key = bytes.fromhex(key_hex.strip())
        except ValueError:
            key = b""
        if len(key) != KEY_BYTES:
            raise ValueError(f"the secrets key must be {2 * KEY_BYTES} hex digits")
        self._aead = AESGCM(key)

    @staticmethod
    def _context(kind: SecretKind, owner: str) -> bytes:
        return f"cloudrec/{kind}/{owner}".encode()

    def seal(self, kind: SecretKind, owner: str, secret: str) -> str:
        """What the database keeps of `secret` of `owner` (a dev_id or app_id); "" stays "" (none)."""
        if not secret:
            return ""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, secret.encode("utf-8"), self._context(kind, owner))
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, kind: SecretKind, owner: str, stored: str) -> str:
        """The secret of `owner` from its stored form; "" stays "" (none). SecretBoxError otherwise."""
        if not stored:
            return ""
        if not stored.startswith(PREFIX):
            raise SecretBoxError(f"the stored {kind} secret of {owner!r} is not sealed")
        try:
            raw = base64.urlsafe_b64decode(stored[len(PREFIX) :])
            plain = self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], self._context(kind, owner))
            return plain.decode("utf-8")
        except (binascii.Error, InvalidTag, ValueError):
            raise SecretBoxError(
                f"the stored {kind} secret of {owner!r} does not open with this key"
            ) from None

    @staticmethod
    def is_sealed(stored: str) -> bool:
        return stored.startswith(PREFIX)


@functools.lru_cache(maxsize=8)
def box_for(key_hex: str) -> SecretBox:
    """The box of a key (one per key in a process: several test servers run in one)."""
    return SecretBox(key_hex)
