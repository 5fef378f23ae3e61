"""Exception handlers: every answer is the contract's JSON `{"code", "msg"}`, whatever went wrong."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from cloudrec.api.parsing import describe_errors
from cloudrec.errors import CloudrecError, Code

log = logging.getLogger(__name__)

SEED_FAMILY = 6050030000  # the seed's 10-digit codes 6050030xxx ...
HST_FAMILY = 605030000  # ... are 605030xxx in the vendor's deployed service (they fit an int32)
FAMILY_SIZE = 1000


def profile_code(code: int, compat: str, hst_code: int | None = None) -> int:
    """The code as the profile `compat` writes it: `default` the seed's, `hst` the 9-digit family."""
    if compat != "hst":
        return int(code)
    if hst_code is not None:
        return hst_code
    if SEED_FAMILY <= code < SEED_FAMILY + FAMILY_SIZE:
        return int(code) - SEED_FAMILY + HST_FAMILY
    return int(code)


def _compat(request: Request) -> str:
    ctx = getattr(request.app.state, "ctx", None)
    return str(ctx.settings.compat) if ctx is not None else "default"


def error_response(
    code: int,
    msg: str,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    *,
    request: Request | None = None,
    hst_code: int | None = None,
) -> JSONResponse:
    """The contract's error JSON; with the `request`, the code as the server's profile writes it."""
    if request is not None:
        code = profile_code(code, _compat(request), hst_code)
    return JSONResponse({"code": int(code), "msg": msg}, status_code=status_code, headers=headers)


async def _business_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CloudrecError)
    return error_response(exc.code, exc.msg, request=request, hst_code=exc.hst_code)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(Code.PARAM, describe_errors(list(exc.errors())), request=request)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers) if exc.headers else None
    if exc.status_code == 404:
        msg = f"no such path: {request.url.path}"
    elif exc.status_code == 405:
        msg = f"method {request.method} is not allowed on {request.url.path}"
    else:
        msg = str(exc.detail)
    return error_response(Code.PARAM, msg, exc.status_code, headers, request=request)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("internal failure on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(Code.INTERNAL, "internal failure", 500, request=request)


def install(app: FastAPI) -> None:
    app.add_exception_handler(CloudrecError, _business_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
