"""The web console's static files at `/console/` (no build step: plain HTML, CSS and JavaScript)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

CONSOLE_DIR = Path(str(files("cloudrec") / "console"))
# Scripts and styles of the console only; pictures and videos may come from the store (S3 presigned).
CSP = (
    "default-src 'self'; img-src 'self' blob: data: http: https:; media-src 'self' blob: http: https:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


class _ConsoleFiles(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-cache"
        return response


def install_console(app: FastAPI) -> None:
    @app.get("/console", include_in_schema=False)
    def console_root() -> RedirectResponse:
        return RedirectResponse("/console/")

    app.mount("/console", _ConsoleFiles(directory=CONSOLE_DIR, html=True), name="console")
