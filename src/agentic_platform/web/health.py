"""Liveness and readiness probes (unauthenticated, no detail beyond what a probe needs)."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from agentic_platform.db.engine import ping

router = APIRouter(tags=["health"])
logger = logging.getLogger("agentic_platform.health")


@router.get("/healthz", summary="Liveness: the process serves requests.")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: the database and configured backends answer.")
async def readyz(request: Request) -> JSONResponse:
    state = request.app.state.platform
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(2):
            await ping(state.engine)
        checks["database"] = "ok"
    except Exception as error:  # any failure means not ready; the reason goes to the log
        logger.warning("database not ready", exc_info=error)
        checks["database"] = "unavailable"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status_code=200 if ready else 503,
    )
