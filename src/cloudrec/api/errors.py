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


def error_response(
    code: int, msg: str, status_code: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"code": int(code), "msg": msg}, status_code=status_code, headers=headers)


async def _business_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CloudrecError)
    return error_response(exc.code, exc.msg)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(Code.PARAM, describe_errors(list(exc.errors())))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers) if exc.headers else None
    if exc.status_code == 404:
        msg = f"no such path: {request.url.path}"
    elif exc.status_code == 405:
        msg = f"method {request.method} is not allowed on {request.url.path}"
    else:
        msg = str(exc.detail)
    return error_response(Code.PARAM, msg, exc.status_code, headers)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("internal failure on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(Code.INTERNAL, "internal failure", 500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(CloudrecError, _business_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
