"""The vendor's token generator ("FspToken") for tests, written from the published description alone.

It does not use cloudrec's code: the JSON is concatenated as the vendor's generators concatenate it, and
every variant they produce can be asked for (`gid`/`uid` "null", "" or absent, `et` or not, Base64 with
line breaks every 76 characters).
"""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

ABSENT = object()  # a gid/uid left out of the JSON


@dataclass(frozen=True)
class FspToken:
    app_id: str  # the vendor's AppID: cloudrec's dev_id
    secret_key: str  # the vendor's AppSecret: 16 characters
    group_id: object = "null"  # a str, or ABSENT
    user_id: object = "null"
    expire_s: int | None = None  # et, epoch seconds
    line_breaks: bool = False  # MIME-style Base64: a CRLF every 76 characters

    def plaintext(self, now_ms: int) -> bytes:
        fields = ['"aid":"' + self.app_id + '"']
        if self.group_id is not ABSENT:
            fields.append('"gid":"' + str(self.group_id) + '"')
        if self.user_id is not ABSENT:
            fields.append('"uid":"' + str(self.user_id) + '"')
        if self.expire_s is not None:
            fields.append('"et":' + str(self.expire_s))
        fields.append('"ts":' + str(now_ms))
        fields.append('"r":' + str(random.randint(0, 2**31 - 1)))
        text = ("{" + ",".join(fields) + "}").encode("utf-8")
        while len(text) % 16:  # the generators pad with spaces to whole AES blocks
            text += b" "
        return text

    def build(self, now_ms: int) -> str:
        key = self.secret_key.encode("utf-8")
        if len(key) != 16:
            raise ValueError("the vendor's generator takes a 16-byte secret only")
        iv = bytes([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])
        enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        body = base64.b64encode(enc.update(self.plaintext(now_ms)) + enc.finalize()).decode("ascii")
        if self.line_breaks:
            body = "\r\n".join(body[i : i + 76] for i in range(0, len(body), 76))
        return "001" + body


def decrypt(token: str, secret_key: str) -> bytes:
    """The plaintext of a token (to read what another generator made)."""
    key = secret_key.encode("utf-8")
    raw = base64.b64decode(token[3:].replace("\r", "").replace("\n", ""))
    dec = Cipher(algorithms.AES(key), modes.CBC(bytes(range(16)))).decryptor()
    return dec.update(raw) + dec.finalize()
