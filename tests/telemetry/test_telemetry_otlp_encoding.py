"""The lean span encoder writes what the OpenTelemetry SDK's encoder writes: both outputs
decode to the same OTLP message, for every kind of value, event, link and status."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState

from agentic_platform.telemetry.otlp_encoding import SpanEncoder

VALUES = {
    "text": "chat bench",
    "empty": "",
    "unicode": "grüße 日本",
    "yes": True,
    "no": False,
    "one": 1,
    "zero": 0,
    "negative": -42,
    "big": 2**62,
    "ratio": 0.25,
    "nothing": 0.0,
    "words": ("stop", "length"),
    "flags": (True, False),
    "numbers": (1, -2, 3),
    "floats": (0.5, -1.5),
}


def finished_spans() -> list[ReadableSpan]:
    recorded = InMemorySpanExporter()
    spans: list[ReadableSpan] = []
    for service in ("agentic-llm-gateway", "agentic-agents"):
        provider = TracerProvider(resource=Resource({"service.name": service, "version": 3}))
        provider.add_span_processor(SimpleSpanProcessor(recorded))
        tracer = provider.get_tracer("agentic_platform", "0.1.0")
        other = provider.get_tracer("other.scope", schema_url="https://opentelemetry.io/schemas/1")
        remote = SpanContext(
            0x4BF92F3577B34DA6A3CE929D0E0E4736,
            0x00F067AA0BA902B7,
            is_remote=True,
            trace_flags=TraceFlags(1),
            trace_state=TraceState([("vendor", "value"), ("other", "x")]),
        )
        parent = trace.set_span_in_context(trace.NonRecordingSpan(remote))
        with tracer.start_as_current_span("POST /llm", context=parent, kind=SpanKind.SERVER):
            with tracer.start_as_current_span("chat bench", kind=SpanKind.CLIENT) as chat:
                chat.set_attributes(VALUES)
                chat.add_event("retry", {"attempt": 2, "why": "timeout"})
                chat.add_event("bare")
                chat.set_status(Status(StatusCode.ERROR, "upstream timed out"))
            with other.start_as_current_span("linked", links=[Link(remote, {"kind": "cause"})]):
                pass
        for kind in SpanKind:
            span = tracer.start_span(f"kind {kind.name}", kind=kind)
            span.set_status(Status(StatusCode.OK))
            span.end()
    spans.extend(recorded.get_finished_spans())
    return spans


def test_the_lean_encoding_decodes_to_what_the_sdk_encodes() -> None:
    spans = finished_spans()
    expected = encode_spans(spans)
    encoder = SpanEncoder()
    first = ExportTraceServiceRequest.FromString(encoder.encode(spans))
    assert first == expected
    assert len(first.resource_spans) == 2
    again = ExportTraceServiceRequest.FromString(encoder.encode(spans))  # from its caches
    assert again == expected


def test_a_batch_of_one_span_and_an_empty_batch() -> None:
    spans = finished_spans()
    encoder = SpanEncoder()
    for span in spans:
        one = ExportTraceServiceRequest.FromString(encoder.encode([span]))
        assert one == encode_spans([span])
    assert encoder.encode([]) == b""
