"""The LLM gateway's spans: a server span per request and a GenAI span per model call."""

from __future__ import annotations

from typing import Any

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
