"""Times of replies (`YYYY-MM-DD HH:MM:SS` in the configured zone) and of filters (that, ISO 8601, Unix s)."""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from cloudrec.errors import ParamError

_UNIX = re.compile(r"[+-]?[0-9]{1,15}(\.[0-9]+)?")  # ASCII digits: float() takes those of other scripts too


@lru_cache(maxsize=16)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def format_time(ts: float | None, tz: ZoneInfo) -> str | None:
    if ts is None:
        return None
    # YYYY-MM-DD HH:MM:SS: the first 19 characters of the ISO form, which costs about half of strftime
    # (a task list formats two times per task).
    return datetime.fromtimestamp(ts, tz).isoformat(" ", "seconds")[:19]


def parse_time(value: str, tz: ZoneInfo, field: str) -> float:
    """Unix seconds of `value`: Unix seconds, or a date-time (naive ones are in `tz`)."""
    text = value.strip()
    if not text.isascii():  # digits of other scripts would be read as numbers
        raise ParamError(f"{field} must be a time written in ASCII characters, got {value[:40]!r}")
    if _UNIX.fullmatch(text):
        return float(text)
    try:
        dt = datetime.fromisoformat(text)
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=tz)
        ts = dt.timestamp()
    except (ValueError, OverflowError):
        raise ParamError(
            f"{field} must be a time: YYYY-MM-DD HH:MM:SS, ISO 8601 or Unix seconds, got {value[:40]!r}"
        ) from None
    return ts
