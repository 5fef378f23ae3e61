"""`/metrics` (Prometheus), `/healthz` (alive) and `/readyz` (ready for work): for operators, no auth."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from cloudrec import metrics
from cloudrec.api.deps import CtxDep
from cloudrec.errors import Code
from cloudrec.health import readiness

# Not in the OpenAPI description: these answer operators and probes, not the contract's clients.
router = APIRouter(tags=["operations"], include_in_schema=False)


@router.get("/metrics")
def scrape(request: Request) -> Response:
    """Every metric in Prometheus's text format."""
    return Response(metrics.exposition(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)


@router.get("/healthz")
def healthz() -> dict[str, Any]:
    """The process answers HTTP (liveness): nothing else is checked."""
    return {"code": 0, "msg": "OK"}


@router.get("/readyz")
def readyz(ctx: CtxDep) -> JSONResponse:
    """Database, storage and recorder capacity; HTTP 503 naming what failed when one is not ready."""
    checks = readiness(ctx)
    body: dict[str, Any] = {"checks": {name: check.as_json() for name, check in checks.items()}}
    failed = [name for name, check in checks.items() if not check.ok]
    if not failed:
        return JSONResponse({"code": 0, "msg": "OK", **body})
    # Only capacity short: the contract's "load limit"; anything else is a failure of the server.
    code = Code.LOAD_LIMIT if failed == ["recorder"] else Code.INTERNAL
    msg = "not ready: " + "; ".join(f"{name}: {checks[name].error}" for name in failed)
    return JSONResponse({"code": int(code), "msg": msg, **body}, status_code=503)
