"""record_id generation and file_name sanitising (a file name is never usable as a path)."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

# The bytes a sanitised file_name may take: segment names add `_0001.mp4`, file systems allow 255.
MAX_FILE_NAME_BYTES = 200

_ASCII_OK = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
# CJK letters: ideographs (unified, extensions, compatibility), kana, hangul syllables and jamo.
_CJK_RANGES = (
    (0x1100, 0x11FF),  # Hangul Jamo
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3130, 0x318F),  # Hangul Compatibility Jamo
    (0x31F0, 0x31FF),  # Katakana Phonetic Extensions
    (0x3400, 0x4DBF),  # CJK Extension A
    (0x4E00, 0x9FFF),  # CJK Unified Ideographs
    (0xAC00, 0xD7AF),  # Hangul Syllables
    (0xF900, 0xFAFF),  # CJK Compatibility Ideographs
    (0x20000, 0x3134F),  # CJK Extensions B–H
)
_DOTS = re.compile(r"\.{2,}")


def new_record_id(now: float) -> str:
    """`YYYYMMDDHHMMSS_<16 hex>`: UTC creation time (sortable), then 64 random bits (unguessable)."""
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d%H%M%S")
    return f"{stamp}_{secrets.token_hex(8)}"


def is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _CJK_RANGES)


def sanitize_file_name(name: str) -> str:
    """Keep `[A-Za-z0-9._-]` and CJK letters, replace anything else by `_`.

    Runs of dots (`..`) and a leading dot are replaced too, so the result is a plain file name that
    never names a parent directory, a hidden file, or a path. May return "" (the caller's default)."""
    out = "".join(ch if ch in _ASCII_OK or is_cjk(ch) else "_" for ch in name)
    out = _DOTS.sub(lambda m: "_" * len(m.group()), out)
    if out.startswith("."):
        out = "_" + out[1:]
    return out
