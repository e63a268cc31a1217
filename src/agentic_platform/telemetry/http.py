"""Spans for HTTP: a server span per request served, a client span per call a typed client
makes, and the W3C ``traceparent`` header that joins them into one trace.

The header is read and written here rather than through a propagator object: it is one
format, ``00-<trace id>-<span id>-<flags>``, and this is the hot path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import (
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    Tracer,
)

TRACEPARENT = "traceparent"
TRACE_ID_HEADER = b"x-trace-id"


def parse_traceparent(value: str) -> SpanContext | None:
    """The remote parent a ``traceparent`` header names, or None if it is not valid."""
    parts = value.strip().split("-")
    if len(parts) < 4 or len(parts[0]) != 2 or parts[0] == "ff":
        return None
    version, trace_hex, span_hex, flags_hex = parts[:4]
    if len(trace_hex) != 32 or len(span_hex) != 16 or len(flags_hex) != 2:
        return None
    if version == "00" and len(parts) != 4:
        return None
    try:
        trace_id, span_id, flags = int(trace_hex, 16), int(span_hex, 16), int(flags_hex, 16)
    except ValueError:
        return None
    if not trace_id or not span_id:
        return None
    return SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(flags & 1))


def format_traceparent(context: SpanContext) -> str:
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def parent_context(traceparent: str | None) -> otel_context.Context | None:
    """The context to start a server span in: the caller's, when it sent a valid header."""
    if traceparent is None:
        return None
    remote = parse_traceparent(traceparent)
    if remote is None:
        return None
    return trace.set_span_in_context(NonRecordingSpan(remote))


def start_server_span(tracer: Tracer, scope: Mapping[str, Any], traceparent: str | None) -> Span:
    method: str = scope["method"]
    return tracer.start_span(
        method,
        context=parent_context(traceparent),
        kind=SpanKind.SERVER,
        attributes={"http.request.method": method, "url.path": scope["path"]},
    )


def route_of(scope: Mapping[str, Any], direct: bool) -> str:
    """The route template that served the request (its path for a direct endpoint, which
    has no parameters), or ``unmatched`` so unknown paths do not each make a series."""
    if direct:
        path: str = scope["path"]
        return path
    route = scope.get("route")
    template = getattr(route, "path", None)
    return template if isinstance(template, str) else "unmatched"


def end_server_span(span: Span, method: str, status: int, route: str) -> None:
    if span.is_recording():
        span.update_name(f"{method} {route}")
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR))
            span.set_attributes(
                {
                    "http.route": route,
                    "http.response.status_code": status,
                    "error.type": str(status),
                }
            )
        else:
            span.set_attributes({"http.route": route, "http.response.status_code": status})
    span.end()


class TracedTransport(httpx.AsyncBaseTransport):
    """A typed client's transport with a client span around each call and the
    ``traceparent`` of that span on the request, in-process and over the network alike."""

    def __init__(self, inner: httpx.AsyncBaseTransport, tracer: Tracer) -> None:
        self._inner = inner
        self._tracer = tracer

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not trace.get_current_span().get_span_context().is_valid:
            return await self._inner.handle_async_request(request)
        method = request.method
        url = request.url
        attributes = {
            "http.request.method": method,
            "server.address": url.host,
            "url.full": str(url.copy_with(query=None)),
        }
        with self._tracer.start_as_current_span(
            method, kind=SpanKind.CLIENT, attributes=attributes, record_exception=False
        ) as span:
            request.headers[TRACEPARENT] = format_traceparent(span.get_span_context())
            response = await self._inner.handle_async_request(request)
            if span.is_recording():
                span.set_attribute("http.response.status_code", response.status_code)
                if response.status_code >= 500:
                    span.set_attribute("error.type", str(response.status_code))
                    span.set_status(Status(StatusCode.ERROR))
            return response

    async def aclose(self) -> None:
        await self._inner.aclose()
