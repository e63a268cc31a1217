"""The LLM gateway's spans: a server span per request and a GenAI span per model call."""

from __future__ import annotations

import json
from typing import Any

from opentelemetry.trace import SpanKind

from agentic_platform.testing.telemetry import parent_of, span_named

CHAT = {
    "model": "echo",
    "messages": [{"role": "user", "content": "secret plans"}],
    "temperature": 0.5,
    "max_tokens": 20,
    "top_p": 0.9,
}


async def test_chat_is_a_genai_span_under_the_request(
    telemetry_settings: Any, platform: Any, client_for: Any
) -> None:
    async with platform(telemetry_settings()) as (app, spans), client_for(app) as http:
        reply = await http.post("/llm/v1/chat/completions", json=CHAT)
    assert reply.status_code == 200
    finished = spans.get_finished_spans()
    server = span_named(finished, "POST /llm/v1/chat/completions")
    chat = span_named(finished, "chat echo")
    assert parent_of(chat, finished) is server
    assert reply.headers["x-trace-id"] == f"{server.context.trace_id:032x}"
    attributes = dict(chat.attributes or {})
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == "test"
    assert attributes["gen_ai.request.model"] == "echo"
    assert attributes["gen_ai.response.model"] == "echo"
    assert attributes["gen_ai.request.temperature"] == 0.5
    assert attributes["gen_ai.request.max_tokens"] == 20
    assert attributes["gen_ai.request.top_p"] == 0.9
    usage = reply.json()["usage"]
    assert attributes["gen_ai.usage.input_tokens"] == usage["prompt_tokens"]
    assert attributes["gen_ai.usage.output_tokens"] == usage["completion_tokens"]
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert not any("secret plans" in str(value) for value in attributes.values())
    assert dict(server.attributes or {})["http.response.status_code"] == 200


async def test_streamed_chat_and_embeddings(
    telemetry_settings: Any, platform: Any, client_for: Any
) -> None:
    stream = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    async with platform(telemetry_settings()) as (app, spans), client_for(app) as http:
        streamed = await http.post("/llm/v1/chat/completions", json=stream)
        embedded = await http.post(
            "/llm/v1/embeddings", json={"model": "test-embed", "input": ["a", "b c"]}
        )
    assert streamed.status_code == 200 and "[DONE]" in streamed.text
    assert embedded.status_code == 200
    finished = spans.get_finished_spans()
    chat = dict(span_named(finished, "chat echo").attributes or {})
    assert chat["gen_ai.request.stream"] is True
    assert chat["gen_ai.response.finish_reasons"] == ("stop",)
    assert chat["gen_ai.usage.output_tokens"] > 0
    embeddings = span_named(finished, "embeddings test-embed")
    assert parent_of(embeddings, finished).name == "POST /llm/v1/embeddings"
    attributes = dict(embeddings.attributes or {})
    assert attributes["gen_ai.operation.name"] == "embeddings"
    assert attributes["gen_ai.usage.input_tokens"] == embedded.json()["usage"]["prompt_tokens"]


async def test_content_only_when_captured(
    telemetry_settings: Any, platform: Any, client_for: Any
) -> None:
    stream = {**CHAT, "stream": True}
    settings = telemetry_settings(capture_content=True)
    async with platform(settings) as (app, spans), client_for(app) as http:
        assert (await http.post("/llm/v1/chat/completions", json=CHAT)).status_code == 200
        assert (await http.post("/llm/v1/chat/completions", json=stream)).status_code == 200
    plain, streamed = [s for s in spans.get_finished_spans() if s.name == "chat echo"]
    for span in (plain, streamed):
        attributes = dict(span.attributes or {})
        prompt = json.loads(str(attributes["gen_ai.input.messages"]))
        assert prompt == [{"role": "user", "parts": [{"type": "text", "content": "secret plans"}]}]
        answer = json.loads(str(attributes["gen_ai.output.messages"]))
        assert answer[0]["parts"] == [{"type": "text", "content": "secret plans"}]
        assert answer[0]["finish_reason"] == "stop"


async def test_refused_and_failed_calls_are_errors(
    telemetry_settings: Any, platform: Any, client_for: Any
) -> None:
    async with platform(telemetry_settings()) as (app, spans), client_for(app) as http:
        unknown = await http.post("/llm/v1/chat/completions", json={**CHAT, "model": "nope"})
        unauthorised = await http.post(
            "/llm/v1/chat/completions", json=CHAT, headers={"Authorization": "Bearer agp_wrong"}
        )
    assert unknown.status_code == 404 and unauthorised.status_code == 401
    servers = [s for s in spans.get_finished_spans() if s.name.startswith("POST")]
    statuses = sorted(dict(s.attributes or {})["http.response.status_code"] for s in servers)
    assert statuses == [401, 404]
    assert all(s.kind is SpanKind.SERVER for s in servers)
    assert "x-trace-id" in unknown.headers and "x-trace-id" in unauthorised.headers


async def test_a_callers_traceparent_is_followed(
    telemetry_settings: Any, platform: Any, client_for: Any
) -> None:
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    header = {"traceparent": f"00-{trace_id}-{parent_id}-01"}
    async with platform(telemetry_settings()) as (app, spans), client_for(app) as http:
        reply = await http.post("/llm/v1/chat/completions", json=CHAT, headers=header)
        broken = await http.get("/llm/v1/models", headers={"traceparent": "00-zz-yy-01"})
    assert reply.headers["x-trace-id"] == trace_id
    server = span_named(spans.get_finished_spans(), "POST /llm/v1/chat/completions")
    assert server.parent is not None and f"{server.parent.span_id:016x}" == parent_id
    assert broken.status_code == 200 and broken.headers["x-trace-id"] != trace_id


async def test_unsampled_requests_record_nothing_but_keep_their_trace_id(
    telemetry_settings: Any, platform: Any, client_for: Any
) -> None:
    settings = telemetry_settings(sampling_ratio=0.0)
    async with platform(settings) as (app, spans), client_for(app) as http:
        reply = await http.post("/llm/v1/chat/completions", json=CHAT)
    assert reply.status_code == 200
    assert len(reply.headers["x-trace-id"]) == 32
    assert spans.get_finished_spans() == ()


async def test_a_global_provider_adds_no_second_server_span(
    telemetry_settings: Any, platform: Any, client_for: Any, monkeypatch: Any
) -> None:
    """With a process-wide provider installed (as ``opentelemetry-instrument`` does), each
    request still has one server span (the platform's) and one duration metric: the web
    framework's own instrumentation stays off."""
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    global_spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(global_spans))
    reader = InMemoryMetricReader()
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: tracer_provider)
    monkeypatch.setattr(metrics, "get_meter_provider", lambda: MeterProvider([reader]))
    async with platform(telemetry_settings()) as (app, spans), client_for(app) as http:
        reply = await http.post("/llm/v1/chat/completions", json=CHAT)
    assert reply.status_code == 200
    assert global_spans.get_finished_spans() == ()
    assert reader.get_metrics_data() is None
    servers = [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert [s.name for s in servers] == ["POST /llm/v1/chat/completions"]
