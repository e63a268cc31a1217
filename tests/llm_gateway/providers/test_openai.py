"""The OpenAI-compatible adapter against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import email.utils
from collections.abc import AsyncIterator
from contextlib import aclosing
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agentic_platform.errors import (
    UpstreamAuthError,
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamRequestError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from agentic_platform.llm_gateway.catalog import Deployment
from agentic_platform.llm_gateway.providers import openai
from agentic_platform.llm_gateway.providers.http_upstream import SSEDecoder
from agentic_platform.llm_gateway.schemas import ChatCompletionChunk, ChatCompletionRequest

KEY = "sk-test-secret-0123456789"
CHAT = "/v1/chat/completions"


def make_request(**fields: Any) -> ChatCompletionRequest:
    body = {"model": "my-alias", "messages": [{"role": "user", "content": "Hi"}], **fields}
    return ChatCompletionRequest.model_validate(body)


async def drain(
    chunks: AsyncIterator[ChatCompletionChunk], into: list[ChatCompletionChunk]
) -> None:
    """Collect chunks into ``into``, so a test sees what arrived before an error."""
    async for part in chunks:
        into.append(part)


def completion(message: dict[str, Any], finish: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-upstream",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-upstream",
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": {
            "prompt_tokens": 9,
            "completion_tokens": 3,
            "total_tokens": 12,
            "prompt_tokens_details": {"cached_tokens": 4},
        },
    }


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-upstream",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "gpt-upstream",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


USAGE_CHUNK = {
    "id": "chatcmpl-upstream",
    "object": "chat.completion.chunk",
    "created": 1700000000,
    "model": "gpt-upstream",
    "choices": [],
    "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
}


@pytest.fixture
def deployment(upstream) -> Deployment:
    return Deployment(
        provider="openai",
        model="gpt-upstream",
        api_base=f"{upstream.base_url}/v1",
        api_key=KEY,
        timeout_seconds=5,
    )


@pytest.fixture
async def provider(deployment):
    adapter = openai.chat_provider(deployment)
    yield adapter
    await adapter.aclose()


async def collect(adapter: openai.OpenAIProvider, request: ChatCompletionRequest) -> list[Any]:
    return [c async for c in adapter.stream(request)]


# --- completions ------------------------------------------------------------------------


async def test_complete_forwards_the_request_under_the_deployment_model(upstream, provider):
    upstream.reply_json(CHAT, completion({"role": "assistant", "content": "Hello!"}))
    request = make_request(
        temperature=0.2,
        stream_options={"include_usage": True},
        logit_bias={"50256": -100},  # a field the gateway does not model: forwarded as is
    )

    result = await provider.complete(request)

    sent = upstream.last
    assert (sent.method, sent.path) == ("POST", CHAT)
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.json() == {
        "model": "gpt-upstream",
        "messages": [{"role": "user", "content": "Hi"}],
        "temperature": 0.2,
        "stream": False,
        "logit_bias": {"50256": -100},
    }
    assert result.choices[0].message.content == "Hello!"
    assert result.choices[0].finish_reason == "stop"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (9, 3)
    assert result.usage.prompt_tokens_details is not None
    assert result.usage.prompt_tokens_details.cached_tokens == 4


async def test_local_server_without_a_key_gets_no_authorization_header(upstream):
    upstream.reply_json(CHAT, completion({"role": "assistant", "content": "ok"}))
    adapter = openai.chat_provider(
        Deployment(provider="openai", model="llama", api_base=f"{upstream.base_url}/v1/")
    )
    try:
        await adapter.complete(make_request())
    finally:
        await adapter.aclose()
    assert upstream.last.path == CHAT
    assert "Authorization" not in upstream.last.headers


async def test_requests_reuse_one_keep_alive_connection(upstream, provider):
    upstream.reply_json(CHAT, completion({"role": "assistant", "content": "ok"}))
    await provider.complete(make_request())
    await provider.complete(make_request())
    assert upstream.requests[0].peer_port == upstream.requests[1].peer_port


async def test_tool_calls_travel_both_ways(upstream, provider):
    call = {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}
    upstream.reply_json(
        CHAT,
        completion(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_2",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city": "Oslo"}'},
                    }
                ],
            },
            finish="tool_calls",
        ),
    )
    tools = [
        {
            "type": "function",
            "function": {
                "name": "weather",
                "description": "Current weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    messages = [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "need a city"},
    ]

    result = await provider.complete(
        make_request(messages=messages, tools=tools, tool_choice="required")
    )

    sent = upstream.last.json()
    assert sent["tools"] == tools
    assert sent["tool_choice"] == "required"
    assert sent["messages"][1] == {"role": "assistant", "tool_calls": [call]}
    assert sent["messages"][2]["tool_call_id"] == "call_1"
    choice = result.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    assert choice.message.tool_calls[0].function.name == "weather"
    assert choice.message.tool_calls[0].function.arguments == '{"city": "Oslo"}'


async def test_image_parts_are_forwarded_unchanged(upstream, provider):
    upstream.reply_json(CHAT, completion({"role": "assistant", "content": "A cat."}))
    content = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "low"}},
    ]
    await provider.complete(make_request(messages=[{"role": "user", "content": content}]))
    assert upstream.last.json()["messages"][0]["content"] == content


async def test_unreadable_answer_is_an_upstream_error(upstream, provider):
    upstream.reply_json(CHAT, {"unexpected": True})
    with pytest.raises(UpstreamError) as caught:
        await provider.complete(make_request())
    assert caught.value.code == "upstream_bad_response"


# --- streaming --------------------------------------------------------------------------


async def test_stream_parses_events_split_across_reads(upstream, provider):
    hello = upstream.sse(chunk({"content": "Hello"}))
    upstream.reply_sse(
        CHAT,
        [
            upstream.sse(chunk({"role": "assistant", "content": ""})),
            b": keep-alive comment\n\n",
            hello[:17],  # the event is cut mid-JSON...
            hello[17:-1],
            hello[-1:],  # ...and between its two newlines
            upstream.sse(chunk({"content": " world"})) + upstream.sse(chunk({}, "stop")),
            upstream.sse(USAGE_CHUNK),
            b"data: [DONE]\n\n",
        ],
        pause=0.02,
    )

    chunks = await collect(provider, make_request(stream=True))

    sent = upstream.last.json()
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}
    assert sent["model"] == "gpt-upstream"
    assert all(isinstance(c, ChatCompletionChunk) for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello world"
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 11


async def test_streams_reuse_the_connection(upstream, provider):
    upstream.reply_sse(CHAT, [upstream.sse(chunk({}, "stop")), b"data: [DONE]\n\n"])
    await collect(provider, make_request(stream=True))
    await collect(provider, make_request(stream=True))
    assert upstream.requests[0].peer_port == upstream.requests[1].peer_port


async def test_stream_carries_tool_call_fragments(upstream, provider):
    first = {"index": 0, "id": "call_9", "type": "function", "function": {"name": "weather"}}
    upstream.reply_sse(
        CHAT,
        [
            upstream.sse(chunk({"role": "assistant", "tool_calls": [first]})),
            upstream.sse(chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"ci'}}]})),
            upstream.sse(
                chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'ty":1}'}}]})
            ),
            upstream.sse(chunk({}, "tool_calls")),
            b"data: [DONE]\n\n",
        ],
    )
    chunks = await collect(provider, make_request(stream=True))
    calls = [call for c in chunks for call in c.choices[0].delta.tool_calls or []]
    assert calls[0].id == "call_9"
    assert calls[0].function.name == "weather"
    assert "".join(call.function.arguments or "" for call in calls) == '{"city":1}'
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


async def test_error_event_mid_stream_is_raised(upstream, provider):
    error = {"error": {"message": "The server had an error", "type": "server_error"}}
    upstream.reply_sse(
        CHAT, [upstream.sse(chunk({"role": "assistant", "content": "Hel"})), upstream.sse(error)]
    )
    received: list[ChatCompletionChunk] = []
    with pytest.raises(UpstreamUnavailableError) as caught:
        await drain(provider.stream(make_request(stream=True)), received)
    assert [c.choices[0].delta.content for c in received] == ["Hel"]
    assert "The server had an error" in caught.value.message


async def test_stream_cut_short_is_an_upstream_failure(upstream, provider):
    upstream.reply_sse(CHAT, [upstream.sse(chunk({"role": "assistant", "content": "Hel"}))])
    with pytest.raises(UpstreamUnavailableError) as caught:
        await collect(provider, make_request(stream=True))
    assert "before the answer was complete" in caught.value.message


async def test_stream_without_done_marker_is_accepted_after_a_finish_reason(upstream, provider):
    upstream.reply_sse(
        CHAT, [upstream.sse(chunk({"content": "ok"})), upstream.sse(chunk({}, "stop"))]
    )
    chunks = await collect(provider, make_request(stream=True))
    assert chunks[-1].choices[0].finish_reason == "stop"


async def test_stream_rejected_up_front_raises_on_first_read(upstream, provider):
    upstream.reply_json(CHAT, {"error": {"message": "slow down"}}, status=429)
    with pytest.raises(UpstreamRateLimitError):
        await collect(provider, make_request(stream=True))


async def test_cancelling_a_stream_disconnects_from_the_upstream(upstream, provider):
    upstream.reply_sse(CHAT, [upstream.sse(chunk({"content": "Hel"}))], hang=True)
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


async def test_abandoning_a_stream_disconnects_from_the_upstream(upstream, provider):
    upstream.reply_sse(CHAT, [upstream.sse(chunk({"content": "Hel"}))], hang=True)
    async with aclosing(provider.stream(make_request(stream=True))) as chunks:
        async for _ in chunks:
            break
    await asyncio.wait_for(upstream.disconnected.wait(), 5)


def test_sse_decoder_handles_any_split_point():
    raw = b'data: {"a": 1}\r\n\r\n: comment\nevent: x\ndata: two\ndata: lines\n\ndata:[DONE]\n\n'
    for cut in range(len(raw) + 1):
        decoder = SSEDecoder()
        events = decoder.feed(raw[:cut]) + decoder.feed(raw[cut:]) + decoder.flush()
        assert events == [b'{"a": 1}', b"two\nlines", b"[DONE]"], cut


# --- embeddings -------------------------------------------------------------------------


async def test_embeddings_come_back_in_input_order(upstream, deployment):
    upstream.reply_json(
        "/v1/embeddings",
        {
            "object": "list",
            "data": [
                {"object": "embedding", "index": 1, "embedding": [0.0, 1.0]},
                {"object": "embedding", "index": 0, "embedding": [1.0, 0.0]},
            ],
            "model": "text-embedding-3-small",
            "usage": {"prompt_tokens": 5, "total_tokens": 5},
        },
    )
    adapter = openai.embedding_provider(deployment)
    try:
        result = await adapter.embed(["first", "second"])
    finally:
        await adapter.aclose()
    assert upstream.last.json() == {
        "model": "gpt-upstream",
        "input": ["first", "second"],
        "encoding_format": "float",
    }
    assert upstream.last.headers["Authorization"] == f"Bearer {KEY}"
    assert result.vectors == [[1.0, 0.0], [0.0, 1.0]]
    assert result.prompt_tokens == 5


# --- error mapping ----------------------------------------------------------------------


def http_date(seconds_from_now: int) -> str:
    when = datetime.now(UTC) + timedelta(seconds=seconds_from_now)
    return email.utils.format_datetime(when, usegmt=True)


@pytest.mark.parametrize(
    ("headers", "low", "high"),
    [
        (lambda: {"Retry-After": "2"}, 2, 2),
        (lambda: {"retry-after-ms": "1500", "Retry-After": "2"}, 1.5, 1.5),
        (lambda: {"Retry-After": http_date(30)}, 25, 30),  # built when the test runs
    ],
    ids=["seconds", "milliseconds", "http-date"],
)
async def test_429_is_a_rate_limit_with_retry_after(upstream, provider, headers, low, high):
    body = {"error": {"message": "Rate limit reached", "type": "requests"}}
    upstream.reply_json(CHAT, body, status=429, headers=headers())
    with pytest.raises(UpstreamRateLimitError) as caught:
        await provider.complete(make_request())
    error = caught.value
    assert error.retryable
    assert error.upstream_status == 429
    assert error.retry_after is not None
    assert low <= error.retry_after <= high


async def test_500_is_unavailable_without_the_traceback(upstream, provider):
    said = "engine crashed\nTraceback (most recent call last):\n  File 'x.py', line 1"
    upstream.reply_json(CHAT, {"error": {"message": said}}, status=500)
    with pytest.raises(UpstreamUnavailableError) as caught:
        await provider.complete(make_request())
    assert caught.value.retryable
    assert caught.value.upstream_status == 500
    assert "engine crashed" in caught.value.message
    assert "Traceback" not in caught.value.message


async def test_401_is_an_auth_error_that_does_not_leak_the_key(upstream, provider):
    said = f"Incorrect API key provided: {KEY}."
    upstream.reply_json(CHAT, {"error": {"message": said, "code": "invalid_api_key"}}, status=401)
    with pytest.raises(UpstreamAuthError) as caught:
        await provider.complete(make_request())
    assert caught.value.upstream_status == 401
    assert not caught.value.retryable
    assert KEY not in str(caught.value)
    assert KEY not in str(caught.value.to_body())


async def test_400_passes_the_upstream_message_through(upstream, provider):
    body = {
        "error": {
            "message": "Invalid value for 'temperature': must be at most 2.",
            "type": "invalid_request_error",
            "param": "temperature",
        }
    }
    upstream.reply_json(CHAT, body, status=400)
    with pytest.raises(UpstreamRequestError) as caught:
        await provider.complete(make_request())
    assert "Invalid value for 'temperature': must be at most 2." in caught.value.message
    assert caught.value.param == "temperature"
    assert caught.value.upstream_status == 400
    assert caught.value.status_code == 400


async def test_slow_upstream_times_out(upstream, deployment):
    upstream.hang(CHAT)
    adapter = openai.chat_provider(deployment.model_copy(update={"timeout_seconds": 0.3}))
    try:
        with pytest.raises(UpstreamTimeoutError) as caught:
            await adapter.complete(make_request())
    finally:
        await adapter.aclose()
    assert "0.3s" in caught.value.message
    assert caught.value.retryable


async def test_stream_that_goes_quiet_times_out(upstream, deployment):
    upstream.reply_sse(CHAT, [upstream.sse(chunk({"content": "Hel"}))], hang=True)
    adapter = openai.chat_provider(deployment.model_copy(update={"timeout_seconds": 0.3}))
    received: list[ChatCompletionChunk] = []
    try:
        with pytest.raises(UpstreamTimeoutError):
            await drain(adapter.stream(make_request(stream=True)), received)
    finally:
        await adapter.aclose()
    assert len(received) == 1


async def test_connection_refused_is_unavailable(refused_url):
    adapter = openai.chat_provider(
        Deployment(provider="openai", model="m", api_base=refused_url, api_key=KEY)
    )
    try:
        with pytest.raises(UpstreamUnavailableError) as caught:
            await adapter.complete(make_request())
    finally:
        await adapter.aclose()
    assert "cannot connect" in caught.value.message
    assert caught.value.retryable
