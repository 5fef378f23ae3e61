"""`GET /download/{key}`: files of local storage behind signed, expiring URLs, with HTTP Range support."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from cloudrec.api.deps import CtxDep
from cloudrec.api.errors import error_response
from cloudrec.api.ranges import CheckedRangeFileResponse
from cloudrec.api.schemas import ErrorReply
from cloudrec.errors import Code
from cloudrec.storage.base import MEDIA_TYPES, media_type
from cloudrec.storage.local import LocalStorage
from cloudrec.storage.signing import verify

log = logging.getLogger(__name__)

router = APIRouter(tags=["files"])

_BINARY: dict[str, Any] = {"schema": {"type": "string", "format": "binary"}}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the file",
        "content": {m: _BINARY for m in (*MEDIA_TYPES.values(), "application/octet-stream")},
    },
    206: {"description": "the requested byte range", "content": {m: _BINARY for m in MEDIA_TYPES.values()}},
    403: {"model": ErrorReply, "description": "the link is tampered with or expired"},
    404: {"model": ErrorReply, "description": "no such file"},
    416: {
        "model": ErrorReply,
        "description": "a malformed or unsatisfiable Range (with Content-Range: bytes */<size>)",
    },
}


@router.head("/download/{key:path}", include_in_schema=False)
@router.get("/download/{key:path}", response_class=Response, responses=_RESPONSES)
def download(
    key: str,
    ctx: CtxDep,
    request: Request,
    expires: Annotated[str | None, Query(description="Unix time the link expires")] = None,
    sig: Annotated[str | None, Query(description="the link's signature")] = None,
) -> Response:
    """A file of a download link (`GET /v1/record/file/download/url`)."""
    storage = ctx.storage
    if not isinstance(storage, LocalStorage):
        return error_response(Code.FILE_READ, "files are not served by this server", 404, request=request)
    if not (
        expires and sig and expires.isascii() and expires.isdigit() and sig.isascii() and len(expires) <= 12
    ):
        return error_response(Code.AUTH_FAILED, "invalid download link", 403, request=request)
    if not verify(key, int(expires), sig, storage.secret, ctx.clock.time()):
        expired = int(expires) < ctx.clock.time()
        return error_response(
            Code.AUTH_FAILED,
            "download link expired" if expired else "invalid download link",
            403,
            request=request,
        )
    try:
        path = storage.path(key)
    except ValueError:
        return error_response(Code.AUTH_FAILED, "invalid download link", 403, request=request)
    if not path.is_file():
        return error_response(Code.FILE_READ, "file not found (deleted?)", 404, request=request)
    return CheckedRangeFileResponse(
        path, media_type=media_type(path.name), filename=path.name, content_disposition_type="inline"
    )
