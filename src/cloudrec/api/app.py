"""`create_app(ctx)`: the FastAPI application of the control plane (OpenAPI at /docs and /openapi.json)."""

from __future__ import annotations

import logging
import time

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cloudrec import __version__, metrics
from cloudrec.api import errors
from cloudrec.api.console import install_console
from cloudrec.api.deps import new_request_slots
from cloudrec.api.openapi import install_openapi
from cloudrec.api.routes import access, callbacks, discovery, download, files, groups, health, live, record
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
from cloudrec.api.schemas_vendor import OverlayRequest
from cloudrec.api.security import Verified
from cloudrec.api.throttle import AuthThrottle
from cloudrec.api.times import zone
from cloudrec.context import AppContext
from cloudrec.health import readings

DESCRIPTION = """\
Self-hosted cloud recording, speaking the HST cloud recording API.

Get an access_token with `GET /access/token` (header `Authorization: <dev_id>.<token>`), then send it as
the `Authorization` header of every `/v1` call. Every reply is JSON `{"code": 0, "msg": "OK", ...}`;
business errors come with HTTP 200 and an error code of the contract (`code`), with `msg` naming the
offending field. Integers may be sent as numbers or numeric strings. A server in profile `hst`
(`CLOUDREC_COMPAT=hst`) answers the vendor's 9-digit codes instead (605030xxx for 6050030xxx).
"""

request_log = logging.getLogger("cloudrec.api.requests")
CORS_MAX_AGE_S = 600  # browsers cache a preflight's answer this long (saves a round trip per call)

REQUEST_MODELS = (
    InitRequest,
    LayoutRequest,
    SubtitleRequest,
    OverlayRequest,
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
            elapsed = time.perf_counter() - start
            request_log.info("%s %s %d %.1f ms", scope["method"], scope["path"], status, elapsed * 1000)
            route = getattr(scope.get("route"), "path", None)  # the template the router matched
            metrics.observe_http(scope["method"], route, status, elapsed)


def create_app(ctx: AppContext) -> FastAPI:
    zone(ctx.settings.timezone)  # an unknown time zone fails here, at start-up, not in a request
    app = FastAPI(title="cloudrec", version=__version__, description=DESCRIPTION, redirect_slashes=False)
    app.state.ctx = ctx
    app.state.request_slots = new_request_slots(ctx)
    app.state.verified = Verified(ctx.clock)
    app.state.auth_throttle = AuthThrottle(
        ctx.clock, ctx.settings.auth_max_failures, ctx.settings.auth_failure_window_s
    )
    app.state.metrics = metrics.server_registry(readings(ctx))
    errors.install(app)
    if ctx.settings.cors_origins:  # browser clients of the listed origins call the API directly
        app.add_middleware(
            CORSMiddleware,
            allow_origins=ctx.settings.cors_origins,
            allow_methods=["GET", "POST", "HEAD", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=CORS_MAX_AGE_S,
        )
    app.add_middleware(RequestLog)
    for module in (access, record, files, groups, download, callbacks, discovery, health, live):
        app.include_router(module.router)
    install_openapi(app, REQUEST_MODELS)
    install_console(app)
    return app
