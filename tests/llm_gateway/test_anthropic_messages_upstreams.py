"""The Messages API over real provider adapters: an OpenAI-compatible upstream and the
Anthropic API itself, both faked at the wire on loopback, driven by the Anthropic SDK."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anthropic
import pytest
from anthropic import AsyncAnthropic
from pydantic import SecretStr

from agentic_platform.app import create_app
from agentic_platform.llm_gateway.catalog import Deployment, ModelEntry
from agentic_platform.settings import AuthSettings, Settings
from agentic_platform.testing.server import serve_in_thread
from agentic_platform.testing.upstream import FakeUpstream

EVERY = {"chat", "streaming", "tools", "vision"}
QUESTION: list[Any] = [{"role": "user", "content": "Weather in Oslo?"}]
TOOL: dict[str, Any] = {
    "name": "get_weather",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


@contextmanager
def _platform(data: Path, admin_key: str, upstream: FakeUpstream) -> Iterator[str]:
    def entry(alias: str, provider: str) -> ModelEntry:
        deployment = Deployment(
            provider=provider,
            model="up-model",
            api_base=upstream.base_url + ("/v1" if provider == "openai" else ""),
            api_key="sk-upstream",
            max_retries=0,
        )
        return ModelEntry(alias=alias, capabilities=EVERY, deployments=[deployment])

    settings = Settings(
        data_dir=data,
        models=[entry("via-openai", "openai"), entry("via-anthropic", "anthropic")],
        auth=AuthSettings(bootstrap_admin_key=SecretStr(admin_key)),
        log_requests=False,
    )
    with serve_in_thread(create_app(settings)) as url:
        yield url


@pytest.fixture
async def sdk(
    tmp_path: Path, admin_key: str, upstream: FakeUpstream
) -> AsyncIterator[AsyncAnthropic]:
    served = _platform(tmp_path / "data", admin_key, upstream)
    # Started in a thread: the fake upstream keeps running on this test's loop meanwhile.
    url = await asyncio.to_thread(served.__enter__)
    try:
        yield AsyncAnthropic(base_url=f"{url}/llm", api_key=admin_key, max_retries=0)
    finally:
        await asyncio.to_thread(served.__exit__, None, None, None)


def _chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    body = {"id": "c1", "object": "chat.completion.chunk", "model": "up-model"}
    return FakeUpstream.sse({**body, "choices": [choice]})


async def test_an_openai_upstream_streams_text_then_a_tool_call(
    sdk: AsyncAnthropic, upstream: FakeUpstream
) -> None:
    call = {"index": 0, "id": "call_9", "type": "function", "function": {"name": "get_weather"}}
    usage = {
        "prompt_tokens": 30,
        "completion_tokens": 9,
        "total_tokens": 39,
        "prompt_tokens_details": {"cached_tokens": 10},
    }
    done = {"id": "c1", "object": "chat.completion.chunk", "model": "up-model", "choices": []}
    upstream.reply_sse(
        "/v1/chat/completions",
        [
            _chunk({"role": "assistant", "content": "Let me check"}),
            _chunk({"content": "."}),
            _chunk({"tool_calls": [{**call, "function": {**call["function"], "arguments": ""}}]}),
            _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}),
            _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Oslo"}'}}]}),
            _chunk({}, "tool_calls"),
            FakeUpstream.sse({**done, "usage": usage}),
            b"data: [DONE]\n\n",
        ],
    )
    async with sdk.messages.stream(
        model="via-openai",
        max_tokens=64,
        system="Be brief.",
        messages=QUESTION,
        tools=[TOOL],  # type: ignore[list-item]
        tool_choice={"type": "auto", "disable_parallel_tool_use": True},
    ) as stream:
        events = [event async for event in stream]
        final = await stream.get_final_message()
    sent = upstream.last.json()
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
    assert sent["tools"][0]["function"]["name"] == "get_weather"
    assert (sent["tool_choice"], sent["parallel_tool_calls"], sent["max_tokens"]) == (
        "auto",
        False,
        64,
    )
    starts = [e.content_block.type for e in events if e.type == "content_block_start"]
    assert starts == ["text", "tool_use"]
    text, tool = final.content
    assert text.type == "text" and text.text == "Let me check."
    assert tool.type == "tool_use" and (tool.id, tool.input) == ("call_9", {"city": "Oslo"})
    assert final.stop_reason == "tool_use"
    usage_seen = final.usage
    assert (usage_seen.input_tokens, usage_seen.cache_read_input_tokens) == (20, 10)
    assert usage_seen.output_tokens == 9


async def test_an_upstream_that_breaks_off_mid_stream_ends_with_an_error_event(
    sdk: AsyncAnthropic, upstream: FakeUpstream
) -> None:
    upstream.reply_sse(
        "/v1/chat/completions",
        [_chunk({"role": "assistant", "content": "The answer"}), _chunk({"content": " is"})],
        pause=0.01,
    )
    pieces: list[str] = []

    async def read() -> None:
        async with sdk.messages.stream(model="via-openai", max_tokens=64, messages=QUESTION) as s:
            async for piece in s.text_stream:
                pieces.append(piece)

    with pytest.raises(anthropic.APIStatusError) as raised:
        await read()
    assert "".join(pieces) == "The answer is"  # what came before the error event
    assert isinstance(raised.value.body, dict)
    assert raised.value.body["type"] == "error"
    assert raised.value.body["error"]["type"] == "api_error"


async def test_the_anthropic_provider_round_trips_a_tool_call(
    sdk: AsyncAnthropic, upstream: FakeUpstream
) -> None:
    upstream.reply_json(
        "/v1/messages",
        {
            "id": "msg_up",
            "type": "message",
            "role": "assistant",
            "model": "up-model",
            "content": [
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "get_weather",
                    "input": {"city": "Oslo"},
                }
            ],
            "stop_reason": "tool_use",
            "usage": {"input_tokens": 12, "output_tokens": 7},
        },
    )
    history: list[Any] = [
        *QUESTION,
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_0", "name": "get_weather", "input": {}}],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_0",
                    "content": "no city given",
                    "is_error": True,
                },
                {"type": "text", "text": "Oslo, please."},
            ],
        },
    ]
    message = await sdk.messages.create(
        model="via-anthropic",
        max_tokens=32,
        messages=history,
        tools=[TOOL],  # type: ignore[list-item]
        tool_choice={"type": "any"},
        stop_sequences=["END"],
    )
    (call,) = message.content
    assert call.type == "tool_use" and (call.id, call.input) == ("toolu_1", {"city": "Oslo"})
    assert message.stop_reason == "tool_use" and message.model == "via-anthropic"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (12, 7)
    sent = json.loads(upstream.last.body)
    assert sent["model"] == "up-model" and sent["tool_choice"] == {"type": "any"}
    assert sent["stop_sequences"] == ["END"]
    assert sent["messages"][1]["content"] == [
        {"type": "tool_use", "id": "toolu_0", "name": "get_weather", "input": {}}
    ]
    assert sent["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_0", "content": "Error: no city given"},
        {"type": "text", "text": "Oslo, please."},
    ]


async def test_an_image_inside_a_tool_result_is_refused_with_what_to_do(
    sdk: AsyncAnthropic,
) -> None:
    image = {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
    with pytest.raises(anthropic.BadRequestError) as raised:
        await sdk.messages.create(
            model="via-openai",
            max_tokens=8,
            messages=[
                *QUESTION,
                {
                    "role": "assistant",
                    "content": [
                        {"type": "tool_use", "id": "t", "name": "get_weather", "input": {}}
                    ],
                },
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "t", "content": [image]}],
                },
            ],
        )
    body = raised.value.body
    assert isinstance(body, dict) and body["error"]["type"] == "invalid_request_error"
    assert "image block of the user message" in body["error"]["message"]
