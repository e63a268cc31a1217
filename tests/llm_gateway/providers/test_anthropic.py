"""The Anthropic adapter against a real HTTP server on 127.0.0.1 speaking the Messages API."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from agentic_platform.errors import (
    UnsupportedFeatureError,
    UpstreamAuthError,
    UpstreamRateLimitError,
    UpstreamRequestError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from agentic_platform.llm_gateway.catalog import Deployment
from agentic_platform.llm_gateway.providers import anthropic
from agentic_platform.llm_gateway.schemas import ChatCompletionChunk, ChatCompletionRequest

KEY = "sk-ant-test-secret-0123456789"
MESSAGES = "/v1/messages"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def make_request(**fields: Any) -> ChatCompletionRequest:
    body = {"model": "claude", "messages": [{"role": "user", "content": "Hi"}], **fields}
    return ChatCompletionRequest.model_validate(body)


async def drain(
    chunks: AsyncIterator[ChatCompletionChunk], into: list[ChatCompletionChunk]
) -> None:
    """Collect chunks into ``into``, so a test sees what arrived before an error."""
    async for part in chunks:
        into.append(part)


def message(content: list[dict[str, Any]], stop: str = "end_turn", **usage: int) -> dict[str, Any]:
    return {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-upstream",
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": usage or {"input_tokens": 10, "output_tokens": 5},
    }


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


@pytest.fixture
def deployment(upstream) -> Deployment:
    return Deployment(
        provider="anthropic",
        model="claude-upstream",
        api_base=upstream.base_url,
        api_key=KEY,
        timeout_seconds=5,
    )


@pytest.fixture
async def provider(deployment):
    adapter = anthropic.chat_provider(deployment)
    yield adapter
    await adapter.aclose()


async def complete_with(upstream, provider, request: ChatCompletionRequest, answer=None):
    upstream.reply_json(MESSAGES, answer or message([text("ok")]))
    result = await provider.complete(request)
    return upstream.last.json(), result


# --- request translation ----------------------------------------------------------------


async def test_conversation_is_translated_to_the_messages_api(upstream, provider):
    call = {"id": "toolu_1", "type": "function", "function": {"name": "weather", "arguments": ""}}
    call_2 = {
        "id": "toolu_2",
        "type": "function",
        "function": {"name": "weather", "arguments": '{"city": "Oslo"}'},
    }
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Oslo and Bergen?"},
        {"role": "developer", "content": [{"type": "text", "text": "Use metric units."}]},
        {"role": "assistant", "content": "Checking.", "tool_calls": [call, call_2]},
        {"role": "tool", "tool_call_id": "toolu_1", "content": "4C"},
        {"role": "tool", "tool_call_id": "toolu_2", "content": [{"type": "text", "text": "9C"}]},
        {"role": "user", "content": "And tomorrow?"},
    ]
    request = make_request(
        messages=messages,
        tools=[WEATHER_TOOL],
        tool_choice="auto",
        parallel_tool_calls=False,
        max_tokens=100,
        temperature=0.5,
        top_p=0.9,
        stop="END",
        user="user-42",
        seed=7,
    )

    sent, _ = await complete_with(upstream, provider, request)

    headers = upstream.last.headers
    assert upstream.last.path == MESSAGES
    assert headers["x-api-key"] == KEY
    assert headers["anthropic-version"] == "2023-06-01"
    assert "Authorization" not in headers
    assert sent == {
        "model": "claude-upstream",
        "max_tokens": 100,
        "system": "Be brief.\n\nUse metric units.",
        "messages": [
            {"role": "user", "content": [text("Weather in Oslo and Bergen?")]},
            {
                "role": "assistant",
                "content": [
                    text("Checking."),
                    {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {}},
                    {
                        "type": "tool_use",
                        "id": "toolu_2",
                        "name": "weather",
                        "input": {"city": "Oslo"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "4C"},
                    {"type": "tool_result", "tool_use_id": "toolu_2", "content": "9C"},
                    text("And tomorrow?"),
                ],
            },
        ],
        "temperature": 0.5,
        "top_p": 0.9,
        "stop_sequences": ["END"],
        "metadata": {"user_id": "user-42"},
        "tools": [
            {
                "name": "weather",
                "description": "Current weather for a city",
                "input_schema": WEATHER_TOOL["function"]["parameters"],  # type: ignore[index]
            }
        ],
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
    }


async def test_defaults_fill_what_anthropic_requires(upstream, deployment):
    adapter = anthropic.chat_provider(
        deployment.model_copy(update={"options": {"default_max_tokens": 512}})
    )
    try:
        sent, _ = await complete_with(upstream, adapter, make_request(temperature=1.6))
    finally:
        await adapter.aclose()
    assert sent["max_tokens"] == 512
    assert sent["temperature"] == 1.0  # capped to Anthropic's range
    assert "system" not in sent


async def test_max_tokens_defaults_to_4096(upstream, provider):
    sent, _ = await complete_with(upstream, provider, make_request())
    assert sent["max_tokens"] == 4096


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", {"type": "auto"}),
        ("none", {"type": "none"}),
        ("required", {"type": "any"}),
        (
            {"type": "function", "function": {"name": "weather"}},
            {"type": "tool", "name": "weather"},
        ),
    ],
)
async def test_tool_choice_is_translated(upstream, provider, choice, expected):
    request = make_request(tools=[WEATHER_TOOL], tool_choice=choice)
    sent, _ = await complete_with(upstream, provider, request)
    assert sent["tool_choice"] == expected


async def test_images_become_image_blocks(upstream, provider):
    content = [
        {"type": "text", "text": "Compare"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
    ]
    request = make_request(messages=[{"role": "user", "content": content}])
    sent, _ = await complete_with(upstream, provider, request)
    assert sent["messages"][0]["content"] == [
        text("Compare"),
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
        },
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
    ]


async def test_unsupported_image_url_is_refused_before_calling_upstream(upstream, provider):
    content = [{"type": "image_url", "image_url": {"url": "ftp://example.com/cat.jpg"}}]
    with pytest.raises(UnsupportedFeatureError):
        await provider.complete(make_request(messages=[{"role": "user", "content": content}]))
    assert upstream.requests == []


# --- response translation ---------------------------------------------------------------


async def test_text_and_tool_use_come_back_as_content_and_tool_calls(upstream, provider):
    answer = message(
        [
            text("Let me check. "),
            {"type": "tool_use", "id": "toolu_9", "name": "weather", "input": {"city": "Oslo"}},
        ],
        stop="tool_use",
        input_tokens=10,
        cache_read_input_tokens=20,
        cache_creation_input_tokens=5,
        output_tokens=7,
    )
    _, result = await complete_with(upstream, provider, make_request(tools=[WEATHER_TOOL]), answer)

    choice = result.choices[0]
    assert choice.message.content == "Let me check. "
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert (call.id, call.function.name) == ("toolu_9", "weather")
    assert json.loads(call.function.arguments) == {"city": "Oslo"}
    usage = result.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (35, 7, 42)
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 20


@pytest.mark.parametrize(
    ("stop", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
    ],
)
async def test_stop_reason_maps_to_finish_reason(upstream, provider, stop, finish):
    _, result = await complete_with(upstream, provider, make_request(), message([text("x")], stop))
    assert result.choices[0].finish_reason == finish


async def test_json_schema_is_emulated_with_a_forced_tool(upstream, provider):
    schema = {"type": "object", "properties": {"temp": {"type": "number"}}, "required": ["temp"]}
    request = make_request(
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "weather_report", "schema": schema, "strict": True},
        }
    )
    answer = message(
        [{"type": "tool_use", "id": "toolu_1", "name": "weather_report", "input": {"temp": 3.5}}],
        stop="tool_use",
    )
    sent, result = await complete_with(upstream, provider, request, answer)

    assert [tool["name"] for tool in sent["tools"]] == ["weather_report"]
    assert sent["tools"][0]["input_schema"] == schema
    assert sent["tool_choice"] == {"type": "tool", "name": "weather_report"}
    choice = result.choices[0]
    assert json.loads(choice.message.content or "") == {"temp": 3.5}
    assert choice.message.tool_calls is None
    assert choice.finish_reason == "stop"


async def test_json_object_uses_a_generic_json_tool(upstream, provider):
    answer = message(
        [{"type": "tool_use", "id": "t", "name": "json_response", "input": {"a": [1]}}], "tool_use"
    )
    request = make_request(response_format={"type": "json_object"})
    sent, result = await complete_with(upstream, provider, request, answer)
    assert sent["tool_choice"] == {"type": "tool", "name": "json_response"}
    assert json.loads(result.choices[0].message.content or "") == {"a": [1]}


async def test_json_schema_with_tools_is_refused(upstream, provider):
    request = make_request(
        tools=[WEATHER_TOOL],
        response_format={"type": "json_schema", "json_schema": {"name": "r", "schema": {}}},
    )
    with pytest.raises(UnsupportedFeatureError):
        await provider.complete(request)
    assert upstream.requests == []


# --- streaming --------------------------------------------------------------------------


def event(upstream, data: dict[str, Any]) -> bytes:
    return upstream.sse(data, event=data["type"])


def block_delta(index: int, delta: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": delta}


def json_delta(index: int, fragment: str) -> dict[str, Any]:
    return block_delta(index, {"type": "input_json_delta", "partial_json": fragment})


def block_start(index: int, block: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": block}


def tool_block(tool_id: str, name: str) -> dict[str, Any]:
    return {"type": "tool_use", "id": tool_id, "name": name, "input": {}}


MESSAGE_START = {
    "type": "message_start",
    "message": {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": "claude-upstream",
        "stop_reason": None,
        "usage": {"input_tokens": 25, "output_tokens": 1, "cache_read_input_tokens": 5},
    },
}


def message_end(stop: str, output_tokens: int) -> list[dict[str, Any]]:
    return [
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop, "stop_sequence": None},
            "usage": {"output_tokens": output_tokens},
        },
        {"type": "message_stop"},
    ]


async def test_stream_translates_text_and_tool_calls(upstream, provider):
    hello = event(upstream, block_delta(0, {"type": "text_delta", "text": "Hello"}))
    events = [
        MESSAGE_START,
        block_start(0, text("")),
        {"type": "ping"},
        None,  # the "Hello" delta, written in pieces
        block_delta(0, {"type": "text_delta", "text": " world"}),
        {"type": "content_block_stop", "index": 0},
        block_start(1, tool_block("toolu_1", "weather")),
        json_delta(1, ""),
        json_delta(1, '{"city": '),
        json_delta(1, '"Oslo"}'),
        {"type": "content_block_stop", "index": 1},
        block_start(2, tool_block("toolu_2", "now")),  # a tool called without arguments
        {"type": "content_block_stop", "index": 2},
        *message_end("tool_use", 15),
    ]
    pieces = [event(upstream, e) if e else b"" for e in events]
    at = events.index(None)
    pieces[at : at + 1] = [hello[:30], hello[30:-1], hello[-1:]]
    upstream.reply_sse(MESSAGES, pieces, pause=0.01)

    chunks = [c async for c in provider.stream(make_request(tools=[WEATHER_TOOL], stream=True))]

    assert upstream.last.json()["stream"] is True
    assert chunks[0].choices[0].delta.role == "assistant"
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    assert "".join(d.content or "" for d in deltas) == "Hello world"
    calls = [call for d in deltas for call in d.tool_calls or []]
    starts = [call for call in calls if call.id]
    assert [(c.index, c.id, c.function.name) for c in starts] == [
        (0, "toolu_1", "weather"),
        (1, "toolu_2", "now"),
    ]
    arguments = {0: "", 1: ""}
    for call in calls:
        arguments[call.index] += call.function.arguments or ""
    assert json.loads(arguments[0]) == {"city": "Oslo"}
    assert json.loads(arguments[1]) == {}
    assert chunks[-2].choices[0].finish_reason == "tool_calls"
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (30, 15)


async def test_stream_in_json_mode_streams_the_tool_input_as_content(upstream, provider):
    events = [
        MESSAGE_START,
        block_start(0, tool_block("toolu_1", "report")),
        json_delta(0, '{"temp"'),
        json_delta(0, ": 3}"),
        {"type": "content_block_stop", "index": 0},
        *message_end("tool_use", 9),
    ]
    upstream.reply_sse(MESSAGES, [event(upstream, e) for e in events])
    request = make_request(
        stream=True,
        response_format={"type": "json_schema", "json_schema": {"name": "report", "schema": {}}},
    )
    chunks = [c async for c in provider.stream(request)]
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    assert json.loads("".join(d.content or "" for d in deltas)) == {"temp": 3}
    assert all(d.tool_calls is None for d in deltas)
    assert chunks[-2].choices[0].finish_reason == "stop"


async def test_error_event_mid_stream_is_raised(upstream, provider):
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    events = [MESSAGE_START, block_start(0, text("")), error]
    upstream.reply_sse(MESSAGES, [event(upstream, e) for e in events])
    received: list[ChatCompletionChunk] = []
    with pytest.raises(UpstreamUnavailableError) as caught:
        await drain(provider.stream(make_request(stream=True)), received)
    assert len(received) == 1
    assert "Overloaded" in caught.value.message


async def test_stream_cut_before_message_stop_is_an_upstream_failure(upstream, provider):
    events = [
        MESSAGE_START,
        block_start(0, text("")),
        block_delta(0, {"type": "text_delta", "text": "Hel"}),
    ]
    upstream.reply_sse(MESSAGES, [event(upstream, e) for e in events])
    with pytest.raises(UpstreamUnavailableError) as caught:
        await drain(provider.stream(make_request(stream=True)), [])
    assert "before the answer was complete" in caught.value.message


async def test_cancelling_a_stream_disconnects_from_the_upstream(upstream, provider):
    upstream.reply_sse(MESSAGES, [event(upstream, MESSAGE_START)], hang=True)
    first = asyncio.Event()

    async def consume() -> None:
        async for _ in provider.stream(make_request(stream=True)):
            first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(upstream.disconnected.wait(), 5)


# --- error mapping ----------------------------------------------------------------------


def envelope(kind: str, said: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": said}}


async def test_529_overloaded_is_unavailable(upstream, provider):
    upstream.reply_json(MESSAGES, envelope("overloaded_error", "Overloaded"), status=529)
    with pytest.raises(UpstreamUnavailableError) as caught:
        await provider.complete(make_request())
    assert caught.value.upstream_status == 529
    assert caught.value.retryable


async def test_429_is_a_rate_limit_with_retry_after(upstream, provider):
    upstream.reply_json(
        MESSAGES,
        envelope("rate_limit_error", "Number of requests has exceeded your rate limit"),
        status=429,
        headers={"retry-after": "7"},
    )
    with pytest.raises(UpstreamRateLimitError) as caught:
        await provider.complete(make_request())
    assert caught.value.retry_after == 7
    assert caught.value.upstream_status == 429


async def test_401_does_not_leak_the_key(upstream, provider):
    upstream.reply_json(
        MESSAGES, envelope("authentication_error", f"invalid x-api-key {KEY}"), status=401
    )
    with pytest.raises(UpstreamAuthError) as caught:
        await provider.complete(make_request())
    assert caught.value.upstream_status == 401
    assert KEY not in str(caught.value.to_body())


async def test_400_passes_the_upstream_message_through(upstream, provider):
    said = "messages.0.content.0.image.source.base64: image exceeds 5 MB maximum"
    upstream.reply_json(MESSAGES, envelope("invalid_request_error", said), status=400)
    with pytest.raises(UpstreamRequestError) as caught:
        await provider.complete(make_request())
    assert said in caught.value.message
    assert caught.value.upstream_status == 400


async def test_slow_upstream_times_out(upstream, deployment):
    upstream.hang(MESSAGES)
    adapter = anthropic.chat_provider(deployment.model_copy(update={"timeout_seconds": 0.3}))
    try:
        with pytest.raises(UpstreamTimeoutError):
            await adapter.complete(make_request())
    finally:
        await adapter.aclose()


async def test_connection_refused_is_unavailable(refused_url):
    adapter = anthropic.chat_provider(
        Deployment(provider="anthropic", model="claude", api_base=refused_url, api_key=KEY)
    )
    try:
        with pytest.raises(UpstreamUnavailableError):
            await adapter.complete(make_request())
    finally:
        await adapter.aclose()


def test_api_base_with_or_without_v1_reaches_the_messages_endpoint():
    expected = "https://proxy.example/v1/messages"
    assert str(anthropic.messages_url("https://proxy.example/")) == expected
    assert str(anthropic.messages_url("https://proxy.example/v1")) == expected
    assert str(anthropic.messages_url(None)) == "https://api.anthropic.com/v1/messages"
