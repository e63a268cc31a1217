"""The platform's tracer records what the OpenTelemetry SDK's tracer records: the same spans,
parents, attributes, events, links and statuses from the same instrumented code, which the
SDK's processors and exporters take as they are; and it samples as the SDK's
``ParentBased(TraceIdRatioBased)`` does."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState

from agentic_platform.telemetry.otlp_encoding import SpanEncoder
from agentic_platform.telemetry.tracing import MAX_ATTRIBUTES, PlatformTracerProvider

RESOURCE = Resource({"service.name": "agentic-llm-gateway"})
REMOTE = SpanContext(
    0x4BF92F3577B34DA6A3CE929D0E0E4736,
    0x00F067AA0BA902B7,
    is_remote=True,
    trace_flags=TraceFlags(1),
    trace_state=TraceState([("vendor", "value")]),
)


def instrumented(provider: Any) -> list[ReadableSpan]:
    """What the platform's instrumented code does, run on ``provider``."""
    recorded = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(recorded))
    tracer = provider.get_tracer("agentic_platform", "0.1.0")
    caller = trace.set_span_in_context(trace.NonRecordingSpan(REMOTE))
    server = tracer.start_span(
        "POST", context=caller, kind=SpanKind.SERVER, attributes={"url.path": "/llm"}
    )
    token = trace.use_span(server)
    with token:
        chat = tracer.start_span("chat bench", kind=SpanKind.CLIENT, attributes={"n": 1})
        chat.set_attributes({"gen_ai.response.finish_reasons": ["stop"], "tokens": 9})
        chat.set_attribute("cost", 0.25)
        chat.add_event("retry", {"attempt": 2})
        chat.set_status(Status(StatusCode.ERROR, "upstream timed out"))
        chat.end()
        tool = tracer.start_as_current_span("execute_tool add", links=[Link(REMOTE)])
        with pytest.raises(ValueError, match="bad arguments"), tool:
            raise ValueError("bad arguments")
        with tracer.start_as_current_span("done") as done:
            done.set_status(StatusCode.OK)
            done.set_status(StatusCode.ERROR, "ignored: OK is final")
    server.update_name("POST /llm")
    server.set_attributes({"http.response.status_code": 200})
    server.end()
    server.set_attribute("late", "ignored: the span has ended")
    return list(recorded.get_finished_spans())


def shape(spans: list[ReadableSpan]) -> list[dict[str, Any]]:
    """What a span says, without its ids and times (random in both tracers)."""
    names = {span.context.span_id: span.name for span in spans if span.context is not None}
    found = []
    for span in spans:
        found.append(
            {
                "name": span.name,
                "kind": span.kind,
                "parent": names.get(span.parent.span_id, "remote") if span.parent else None,
                "trace": span.context.trace_id if span.context else None,
                "state": span.context.trace_state if span.context else None,
                "attributes": dict(span.attributes or {}),
                "events": [
                    (event.name, sorted(dict(event.attributes or {}))) for event in span.events
                ],
                "links": [link.context.span_id for link in span.links],
                "status": (span.status.status_code, span.status.description),
                "resource": span.resource,
                "scope": span.instrumentation_scope,
                "timed": bool(
                    span.start_time and span.end_time and span.end_time >= span.start_time
                ),
            }
        )
    return found


def test_the_platform_tracer_records_what_the_sdk_records() -> None:
    sdk = instrumented(TracerProvider(resource=RESOURCE))
    ours = instrumented(PlatformTracerProvider(RESOURCE))
    assert shape(ours) == shape(sdk)
    assert [span.name for span in ours] == ["chat bench", "execute_tool add", "done", "POST /llm"]


def test_its_spans_encode_as_the_sdk_encodes_them() -> None:
    spans = instrumented(PlatformTracerProvider(RESOURCE))
    expected = encode_spans(spans)
    assert ExportTraceServiceRequest.FromString(SpanEncoder().encode(spans)) == expected
    assert len(expected.resource_spans[0].scope_spans[0].spans) == 4


def test_attributes_past_the_limit_are_dropped_and_counted() -> None:
    provider = PlatformTracerProvider(RESOURCE)
    recorded = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(recorded))
    span = provider.get_tracer("t").start_span("many")
    span.set_attributes({f"key{n}": n for n in range(MAX_ATTRIBUTES + 5)})
    span.set_attribute("key0", "replaced, not dropped")
    span.end()
    (finished,) = recorded.get_finished_spans()
    assert len(finished.attributes or {}) == MAX_ATTRIBUTES
    assert finished.dropped_attributes == 5
    assert (finished.attributes or {})["key0"] == "replaced, not dropped"


def trace_with_low_bits(low: int) -> int:
    return (0x4BF92F3577B34DA6 << 64) | low


@pytest.mark.parametrize("ratio", [0.0, 0.25, 0.5, 1.0])
@pytest.mark.parametrize("honour", [False, True])
@pytest.mark.parametrize("flag", [0, 1])
def test_it_samples_as_the_sdks_parent_based_ratio_sampler(
    ratio: float, honour: bool, flag: int
) -> None:
    by_ratio = TraceIdRatioBased(ratio)
    sampler = (
        ParentBased(by_ratio)
        if honour
        else ParentBased(
            by_ratio, remote_parent_sampled=by_ratio, remote_parent_not_sampled=by_ratio
        )
    )
    sdk = TracerProvider(resource=RESOURCE, sampler=sampler).get_tracer("t")
    ours = PlatformTracerProvider(RESOURCE, ratio, honour_incoming=honour).get_tracer("t")
    for low in (0, 1, 2**62, 2**63 - 1, 2**63, 3 * 2**62, 2**64 - 1):
        remote = SpanContext(
            trace_with_low_bits(low), 7, is_remote=True, trace_flags=TraceFlags(flag)
        )
        caller = trace.set_span_in_context(trace.NonRecordingSpan(remote))
        expected = sdk.start_span("server", context=caller)
        found = ours.start_span("server", context=caller)
        assert found.is_recording() == expected.is_recording(), (ratio, honour, flag, low)
        assert found.get_span_context().trace_id == remote.trace_id
        assert found.get_span_context().trace_flags.sampled == found.is_recording()
        with trace.use_span(found, end_on_exit=True):
            child = ours.start_span("child")  # a local parent: followed, whatever the ratio
            assert child.is_recording() == found.is_recording()
            assert child.get_span_context().trace_id == remote.trace_id


def test_a_new_trace_at_ratio_zero_still_has_an_id() -> None:
    tracer = PlatformTracerProvider(RESOURCE, 0.0).get_tracer("t")
    span = tracer.start_span("server")
    assert not span.is_recording()
    assert span.get_span_context().is_valid
    assert (
        tracer.start_span("other").get_span_context().trace_id != span.get_span_context().trace_id
    )
