"""`create_app(ctx)`: the FastAPI application of the control plane (OpenAPI at /docs and /openapi.json)."""

from __future__ import annotations

import logging
import time

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cloudrec import __version__
from cloudrec.api import errors
from cloudrec.api.console import install_console
from cloudrec.api.deps import new_request_slots
from cloudrec.api.openapi import install_openapi
from cloudrec.api.routes import access, callbacks, download, files, groups, live, record
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
from cloudrec.api.security import Verified
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


class RequestLog:
    """ASGI middleware: one line per request with method, path, status and time, never the query string
    (it carries tokens and URL signatures) nor headers. Plain ASGI: Starlette's BaseHTTPMiddleware
    costs a task and a stream per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # what the client gets if the app fails before it starts the response

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            elapsed = (time.perf_counter() - start) * 1000
            request_log.info("%s %s %d %.1f ms", scope["method"], scope["path"], status, elapsed)


def create_app(ctx: AppContext) -> FastAPI:
    zone(ctx.settings.timezone)  # an unknown time zone fails here, at start-up, not in a request
    app = FastAPI(title="cloudrec", version=__version__, description=DESCRIPTION, redirect_slashes=False)
    app.state.ctx = ctx
    app.state.request_slots = new_request_slots(ctx)
    app.state.verified = Verified(ctx.clock)
    errors.install(app)
    app.add_middleware(RequestLog)
    for module in (access, record, files, groups, download, callbacks):
        app.include_router(module.router)
    app.include_router(live.router)  # snapshot, task info, app list (the console's extras)
    install_openapi(app, REQUEST_MODELS)
    install_console(app)
    return app
