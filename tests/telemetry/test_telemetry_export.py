"""Export: Langfuse over OTLP/HTTP with its keys as basic auth, checked at a real receiver
on loopback; and a collector that is down or hangs never slows or fails a request."""

from __future__ import annotations

import base64
import socket
import statistics
import time
from collections.abc import Iterator
from typing import Any

import pytest

from agentic_platform.testing.redis_server import free_port
from agentic_platform.testing.telemetry import OtlpReceiver

CHAT = {"model": "echo", "messages": [{"role": "user", "content": "hello there"}]}


def attributes_of(span: Any) -> dict[str, Any]:
    found = {}
    for attribute in span.attributes:
        value = attribute.value
        found[attribute.key] = getattr(value, value.WhichOneof("value"))
    return found


async def test_traces_reach_langfuse_with_basic_auth(
    telemetry_settings: Any, platform: Any, client_for: Any, admin_key: str
) -> None:
    receiver = OtlpReceiver().start()
    settings = telemetry_settings(
        langfuse={
            "enabled": True,
            "host": receiver.url,
            "public_key": "pk-lf-1",
            "secret_key": "sk-lf-2",
        }
    )
    try:
        async with platform(settings) as (app, _spans), client_for(app) as http:
            reply = await http.post("/llm/v1/chat/completions", json=CHAT)
    finally:
        receiver.stop()
    assert reply.status_code == 200
    assert receiver.received, "nothing reached the receiver"
    expected = "Basic " + base64.b64encode(b"pk-lf-1:sk-lf-2").decode()
    for record in receiver.received:
        assert record.path == "/api/public/otel/v1/traces"
        assert record.headers["authorization"] == expected
        assert record.headers["content-type"] == "application/x-protobuf"
    spans = {span.name: span for span in receiver.spans()}
    chat = attributes_of(spans["chat echo"])
    assert chat["gen_ai.request.model"] == "echo"
    assert chat["gen_ai.usage.output_tokens"] == 2
    assert "gen_ai.usage.cost" in chat
    server = spans["POST /llm/v1/chat/completions"]
    assert server.trace_id.hex() == reply.headers["x-trace-id"]
    assert spans["chat echo"].parent_span_id == server.span_id
    for span in receiver.spans():
        assert admin_key not in str(attributes_of(span))


@pytest.fixture
def hanging_collector() -> Iterator[str]:
    """A port that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


@pytest.mark.parametrize("protocol", ["grpc", "http"])
@pytest.mark.parametrize("collector", ["down", "hanging"])
async def test_a_broken_collector_never_slows_a_request(
    telemetry_settings: Any,
    platform: Any,
    client_for: Any,
    hanging_collector: str,
    protocol: str,
    collector: str,
) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}" if collector == "down" else hanging_collector
    settings = telemetry_settings(
        otlp_endpoint=endpoint,
        otlp_protocol=protocol,
        batch_delay_seconds=0.05,
        export_timeout_seconds=1,
        metrics_export_seconds=1,
    )
    took = []
    async with platform(settings) as (app, _spans), client_for(app) as http:
        for _ in range(40):
            started = time.perf_counter()
            reply = await http.post("/llm/v1/chat/completions", json=CHAT)
            took.append(time.perf_counter() - started)
            assert reply.status_code == 200
        stopping = time.perf_counter()
    stopped_in = time.perf_counter() - stopping
    assert statistics.median(took) < 0.05, f"median {statistics.median(took):.3f}s"
    assert max(took) < 0.5, f"slowest {max(took):.3f}s"
    assert stopped_in < 8, f"shutdown took {stopped_in:.1f}s"
