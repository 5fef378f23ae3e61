"""Range requests of downloads as RFC 9110 wants them: a malformed or unsatisfiable Range gets 416 with
`Content-Range: bytes */<size>` and the contract's JSON body, an unknown range unit is ignored."""

from __future__ import annotations

import os
import re

from starlette.datastructures import Headers
from starlette.responses import FileResponse
from starlette.types import Receive, Scope, Send

from cloudrec.api.errors import error_response
from cloudrec.errors import Code

MAX_RANGES = 100  # more parts than this in one Range header is abuse (RFC 9110 14.2), not a request
_PART = re.compile(r"([0-9]{1,19})?-([0-9]{1,19})?")  # ASCII digits; 19 digits hold any file size


class RangeError(ValueError):
    pass


def satisfiable_ranges(value: str, size: int) -> str | None:
    """The byte ranges of a `bytes=` Range header that a file of `size` bytes can satisfy, as a clean
    header value; None for another unit (the header is then ignored). RangeError says what is wrong."""
    unit, sep, spec = value.partition("=")
    if not sep:
        raise RangeError("the Range header must be bytes=<first>-<last>")
    if unit.strip().lower() != "bytes":
        return None
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    if not parts:
        raise RangeError("the Range header names no range")
    if len(parts) > MAX_RANGES:
        raise RangeError(f"the Range header has more than {MAX_RANGES} ranges")
    kept: list[str] = []
    for part in parts:
        match = _PART.fullmatch(part)
        if match is None or (match.group(1) is None and match.group(2) is None):
            raise RangeError(f"the range {part[:40]!r} is malformed: <first>-<last>, <first>- or -<length>")
        first, last = match.group(1), match.group(2)
        if first is not None and last is not None and int(last) < int(first):
            raise RangeError(f"the range {part!r} ends before it starts")
        if first is not None and int(first) >= size:
            continue  # starts beyond the end of the file
        if first is None and (int(last or 0) == 0 or size == 0):
            continue  # a suffix of length 0, or of an empty file
        if first is None:
            kept.append(f"-{int(last or 0)}")
        else:
            kept.append(f"{int(first)}-{int(last) if last is not None else ''}")
    if not kept:
        raise RangeError(f"no range of the Range header is satisfiable: the file has {size} bytes")
    return "bytes=" + ",".join(kept)


class CheckedRangeFileResponse(FileResponse):
    """A FileResponse whose Range handling answers errors as RFC 9110 and the contract want them."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        value = Headers(scope=scope).get("range")
        if value is not None and scope["method"].upper() in ("GET", "HEAD"):
            size = os.stat(self.path).st_size
            try:
                cleaned = satisfiable_ranges(value, size)
            except RangeError as exc:
                headers = {"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"}
                response = error_response(Code.PARAM, f"Range not satisfiable: {exc}", 416, headers)
                await response(scope, receive, send)
                return
            rest = [(k, v) for k, v in scope["headers"] if k.lower() != b"range"]
            if cleaned is not None:
                rest.append((b"range", cleaned.encode("latin-1")))
            scope = {**scope, "headers": rest}
        await super().__call__(scope, receive, send)
