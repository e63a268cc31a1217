"""Seeing what telemetry emits: the finished spans of a running app, kept in memory, and a
real OTLP/HTTP receiver on loopback that decodes what exporters send it.

Both need the ``telemetry`` extra.
"""

from __future__ import annotations

import gzip
import threading
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


def record_spans(app: Any) -> InMemorySpanExporter:
    """Keep every span the running ``app`` finishes from now on (call inside its lifespan:
    the tracer provider is built there)."""
    exporter = InMemorySpanExporter()
    provider = app.state.platform.telemetry.provider
    if provider is None:
        raise RuntimeError("telemetry is off in this app (settings.telemetry.enabled)")
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


def span_named(spans: Sequence[ReadableSpan], name: str) -> ReadableSpan:
    """The one span called ``name``."""
    found = [span for span in spans if span.name == name]
    if len(found) != 1:
        raise AssertionError(f"{len(found)} spans {name!r} among {[s.name for s in spans]}")
    return found[0]


def parent_of(span: ReadableSpan, spans: Sequence[ReadableSpan]) -> ReadableSpan:
    """The span among ``spans`` that is ``span``'s parent."""
    if span.parent is None:
        raise AssertionError(f"{span.name} has no parent")
    for candidate in spans:
        if candidate.context is not None and candidate.context.span_id == span.parent.span_id:
            return candidate
    raise AssertionError(f"the parent of {span.name} is not among the spans")


def descendants_of(ancestor: ReadableSpan, spans: Sequence[ReadableSpan]) -> list[ReadableSpan]:
    """Every span among ``spans`` below ``ancestor`` (children, their children, ...)."""
    found: list[ReadableSpan] = []
    ids = {ancestor.context.span_id} if ancestor.context is not None else set()
    grew = True
    while grew:
        grew = False
        for span in spans:
            if span.parent and span.parent.span_id in ids and span.context.span_id not in ids:
                ids.add(span.context.span_id)
                found.append(span)
                grew = True
    return found


@dataclass
class Received:
    """One export request: its path, headers and decoded body."""

    path: str
    headers: dict[str, str]
    traces: ExportTraceServiceRequest | None = None
    metrics: ExportMetricsServiceRequest | None = None


@dataclass
class OtlpReceiver:
    """An OTLP/HTTP (protobuf) collector on loopback: ``/v1/traces`` and ``/v1/metrics``,
    plus any path ending in them (Langfuse's ``/api/public/otel/v1/traces``)."""

    received: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> OtlpReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                encoding = self.headers.get("Content-Encoding", "")
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                record = Received(self.path, {k.lower(): v for k, v in self.headers.items()})
                if self.path.endswith("/v1/traces"):
                    record.traces = ExportTraceServiceRequest.FromString(body)
                    answer = ExportTraceServiceResponse().SerializeToString()
                elif self.path.endswith("/v1/metrics"):
                    record.metrics = ExportMetricsServiceRequest.FromString(body)
                    answer = ExportMetricsServiceResponse().SerializeToString()
                else:
                    self.send_error(404)
                    return
                receiver.received.append(record)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def span_names(self) -> list[str]:
        return [span.name for span in self.spans()]

    def spans(self) -> Iterator[Any]:
        for record in self.received:
            if record.traces is None:
                continue
            for resource in record.traces.resource_spans:
                for scope in resource.scope_spans:
                    yield from scope.spans
