"""A local OTLP/HTTP collector for the telemetry benchmark: decodes every export (as a real
collector must) and counts what arrived; ``GET /stats`` answers the counts as JSON.

    python -m bench.gateway.collector --port 4318
"""

from __future__ import annotations

import argparse
import json

from aiohttp import web
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

COUNTS = web.AppKey("counts", dict)


async def traces(request: web.Request) -> web.Response:
    export = ExportTraceServiceRequest.FromString(await request.read())
    counts = request.app[COUNTS]
    counts["trace_exports"] += 1
    counts["spans"] += sum(
        len(scope.spans) for resource in export.resource_spans for scope in resource.scope_spans
    )
    body = ExportTraceServiceResponse().SerializeToString()
    return web.Response(body=body, content_type="application/x-protobuf")


async def metrics(request: web.Request) -> web.Response:
    ExportMetricsServiceRequest.FromString(await request.read())
    request.app[COUNTS]["metric_exports"] += 1
    body = ExportMetricsServiceResponse().SerializeToString()
    return web.Response(body=body, content_type="application/x-protobuf")


async def stats(request: web.Request) -> web.Response:
    return web.Response(text=json.dumps(request.app[COUNTS]), content_type="application/json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[COUNTS] = {"trace_exports": 0, "spans": 0, "metric_exports": 0}
    app.add_routes(
        [
            web.post("/v1/traces", traces),
            web.post("/v1/metrics", metrics),
            web.get("/stats", stats),
            web.get("/healthz", stats),
        ]
    )
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
