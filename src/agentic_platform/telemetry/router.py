"""``GET /metrics``: the process's metrics in the Prometheus text format.

Like the probes it needs no API key (a scraper has none); it carries no user data, only
counts by model, provider, route and status. Switch it off, or move it to a port of its
own that no ingress exposes, with ``telemetry.prometheus``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from agentic_platform.errors import NotFoundError

router = APIRouter(tags=["health"])


@router.get("/metrics", summary="Metrics in the Prometheus text format (no API key).")
async def metrics(request: Request) -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    telemetry = request.app.state.platform.telemetry
    if telemetry.metrics is None:
        raise NotFoundError("Metrics are off in this process.")
    return Response(generate_latest(telemetry.metrics.registry), media_type=CONTENT_TYPE_LATEST)
