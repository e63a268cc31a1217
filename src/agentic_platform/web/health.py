"""Liveness and readiness probes (unauthenticated, no detail beyond what a probe needs)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

router = APIRouter(tags=["health"])
logger = logging.getLogger("agentic_platform.health")


@router.get("/healthz", summary="Liveness: the process serves requests.")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: the database and configured backends answer.")
async def readyz(request: Request) -> JSONResponse:
    state = request.app.state.platform
    names = list(state.readiness)
    results = await asyncio.gather(*(_check(name, state.readiness[name]) for name in names))
    checks = dict(zip(names, results, strict=True))
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status_code=200 if ready else 503,
    )


async def _check(name: str, probe: Callable[[], Awaitable[None]]) -> str:
    try:
        async with asyncio.timeout(2):
            await probe()
    except Exception as error:  # any failure means not ready; the reason goes to the log
        logger.warning("backend not ready", extra={"backend": name}, exc_info=error)
        return "unavailable"
    return "ok"
