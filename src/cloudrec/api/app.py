"""`create_app(ctx)`: the FastAPI application of the control plane (OpenAPI at /docs and /openapi.json)."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response

from cloudrec import __version__
from cloudrec.api import errors
from cloudrec.api.deps import new_request_slots
from cloudrec.api.openapi import install_openapi
from cloudrec.api.routes import access, callbacks, download, files, groups, record
from cloudrec.api.schemas import (
    CallbackRequest,
    DeleteRequest,
    InitRequest,
    LayoutRequest,
    PublishRequest,
    RecordRequest,
    SubtitleRequest,
    UnpublishRequest,
)
from cloudrec.api.times import zone
from cloudrec.context import AppContext

DESCRIPTION = """\
Self-hosted cloud recording, speaking the HST cloud recording API.

Get an access_token with `GET /access/token` (header `Authorization: <dev_id>.<token>`), then send it as
the `Authorization` header of every `/v1` call. Every reply is JSON `{"code": 0, "msg": "OK", ...}`;
business errors come with HTTP 200 and an error code of the contract (`code`), with `msg` naming the
offending field. Integers may be sent as numbers or numeric strings.
"""

request_log = logging.getLogger("cloudrec.api.requests")

REQUEST_MODELS = (
    InitRequest,
    LayoutRequest,
    SubtitleRequest,
    RecordRequest,
    DeleteRequest,
    PublishRequest,
    UnpublishRequest,
    CallbackRequest,
)


def install_request_log(app: FastAPI) -> None:
    """One line per request: method, path, status and time, never the query string (it carries tokens
    and URL signatures) nor headers."""

    @app.middleware("http")
    async def log_request(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        request_log.info(
            "%s %s %d %.1f ms",
            request.method,
            request.url.path,
            response.status_code,
            (time.perf_counter() - start) * 1000,
        )
        return response


def create_app(ctx: AppContext) -> FastAPI:
    zone(ctx.settings.timezone)  # an unknown time zone fails here, at start-up, not in a request
    app = FastAPI(title="cloudrec", version=__version__, description=DESCRIPTION, redirect_slashes=False)
    app.state.ctx = ctx
    app.state.request_slots = new_request_slots(ctx)
    errors.install(app)
    install_request_log(app)
    for module in (access, record, files, groups, download, callbacks):
        app.include_router(module.router)
    install_openapi(app, REQUEST_MODELS)
    return app
