"""`create_app(ctx)`: the FastAPI application of the control plane (OpenAPI at /docs and /openapi.json)."""

from __future__ import annotations

from fastapi import FastAPI

from cloudrec import __version__
from cloudrec.api import errors
from cloudrec.api.openapi import install_openapi
from cloudrec.api.routes import access, download, files, groups, record
from cloudrec.api.schemas import (
    DeleteRequest,
    InitRequest,
    LayoutRequest,
    PublishRequest,
    RecordRequest,
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

REQUEST_MODELS = (InitRequest, LayoutRequest, RecordRequest, DeleteRequest, PublishRequest, UnpublishRequest)


def create_app(ctx: AppContext) -> FastAPI:
    zone(ctx.settings.timezone)  # an unknown time zone fails here, at start-up, not in a request
    app = FastAPI(title="cloudrec", version=__version__, description=DESCRIPTION, redirect_slashes=False)
    app.state.ctx = ctx
    errors.install(app)
    for module in (access, record, files, groups, download):
        app.include_router(module.router)
    install_openapi(app, REQUEST_MODELS)
    return app
