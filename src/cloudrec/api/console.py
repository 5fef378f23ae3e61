"""The web console's static files at `/console/` (no build step: plain HTML, CSS and JavaScript)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

CONSOLE_DIR = Path(str(files("cloudrec") / "console"))
# The caption font (media/captions.py: Noto Sans CJK, a dependency), offered to browsers without a CJK
# font of their own so that the Chinese labels show everywhere; fetched only when a page needs it.
CJK_FONT = Path(str(files("noto_cjk_sans_jp_regular") / "NotoSansCJKjp-Regular.otf"))
FONT_CACHE_S = 7 * 86400
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

    @app.get("/console/fonts/cjk.otf", include_in_schema=False)
    def console_font() -> FileResponse:
        return FileResponse(
            CJK_FONT, media_type="font/otf", headers={"Cache-Control": f"max-age={FONT_CACHE_S}"}
        )

    app.mount("/console", _ConsoleFiles(directory=CONSOLE_DIR, html=True), name="console")
