"""What an OpenAI-compatible upstream receives for a Responses call, a stream it breaks off
(an ``error`` event the SDK raises), and token-id embeddings passed through to it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import openai
import pytest
from openai import AsyncOpenAI
from test_metering import Served, serve

from agentic_platform.llm_gateway.catalog import Deployment, ModelEntry
from agentic_platform.settings import Settings
from agentic_platform.testing.upstream import FakeUpstream

EVERYTHING = {"chat", "streaming", "tools", "json_schema"}


@pytest.fixture
async def platform(settings: Settings, upstream: FakeUpstream) -> AsyncIterator[AsyncOpenAI]:
    deployment = Deployment(
        provider="openai",
        model="gpt-up",
        api_base=upstream.base_url,
        api_key="sk-test",
        max_retries=0,
    )
    embedder = deployment.model_copy(update={"model": "embed-up"})
    database = f"sqlite+aiosqlite:///{settings.data_dir.parent / 'upstream.db'}"
    served = serve(
        settings,
        database,
        ModelEntry(alias="upstream", capabilities=EVERYTHING, deployments=[deployment]),
        ModelEntry(
            alias="upstream-embed",
            kind="embedding",
            capabilities={"embeddings"},
            deployments=[embedder],
        ),
    )
    running: Served = await asyncio.to_thread(next, served)
    yield AsyncOpenAI(base_url=f"{running.url}/llm/v1", api_key=running.admin_key, max_retries=0)
    await asyncio.to_thread(next, served, None)


def completion(message: dict[str, object], finish: str = "stop") -> dict[str, object]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-up",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16},
    }


async def test_a_response_reaches_the_upstream_as_a_chat_request(
    platform: AsyncOpenAI, upstream: FakeUpstream
) -> None:
    upstream.reply_json(
        "/chat/completions",
        completion(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_9",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": '{"q": "x"}'},
                    }
                ],
            },
            "tool_calls",
        ),
    )
    response = await platform.responses.create(
        model="upstream",
        instructions="Be brief.",
        input=[
            {"role": "user", "content": "find x"},
            {"type": "function_call", "call_id": "call_1", "name": "lookup", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "nothing"},
        ],
        tools=[{"type": "function", "name": "lookup", "parameters": {"type": "object"}}],
        tool_choice="required",
        text={"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}}},
        max_output_tokens=50,
        temperature=0.5,
        metadata={"ticket": "7"},
    )
    sent = upstream.last.json()
    assert sent["model"] == "gpt-up"
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "find x"},
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "content": "nothing", "tool_call_id": "call_1"},
    ]
    assert sent["tools"] == [
        {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
    ]
    assert sent["tool_choice"] == "required"
    assert sent["response_format"]["json_schema"]["schema"] == {"type": "object"}
    assert sent["max_completion_tokens"] == 50 and sent["temperature"] == 0.5
    assert "metadata" not in sent and "instructions" not in sent and "input" not in sent
    (call,) = response.output
    assert call.type == "function_call" and call.call_id == "call_9"
    assert response.usage is not None and response.usage.input_tokens == 11
    assert response.metadata == {"ticket": "7"}


async def test_a_stream_broken_off_ends_with_an_error_event(
    platform: AsyncOpenAI, upstream: FakeUpstream
) -> None:
    chunk = {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-up",
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}}],
    }
    failure = {"error": {"message": "overloaded", "type": "server_error", "code": "overloaded"}}
    upstream.reply_sse("/chat/completions", [upstream.sse(chunk), upstream.sse(failure)])
    stream = await platform.responses.create(model="upstream", input="hi", stream=True)
    kinds: list[str] = []

    async def read() -> None:
        async for event in stream:
            kinds.append(event.type)

    with pytest.raises(openai.APIError):
        await read()
    assert "response.output_text.delta" in kinds
    assert "response.completed" not in kinds
    sent = upstream.last.json()
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}


async def test_token_ids_are_passed_to_an_openai_compatible_embedder(
    platform: AsyncOpenAI, upstream: FakeUpstream
) -> None:
    upstream.reply_json(
        "/embeddings",
        {
            "object": "list",
            "data": [
                {"object": "embedding", "index": 1, "embedding": [0.0, 1.0]},
                {"object": "embedding", "index": 0, "embedding": [1.0, 0.0]},
            ],
            "model": "embed-up",
            "usage": {"prompt_tokens": 5, "total_tokens": 5},
        },
    )
    result = await platform.embeddings.create(model="upstream-embed", input=[[1, 2, 3], [4, 5]])
    assert upstream.last.json()["input"] == [[1, 2, 3], [4, 5]]
    assert [item.embedding for item in result.data] == [[1.0, 0.0], [0.0, 1.0]]
    assert result.usage.prompt_tokens == 5
    upstream.reply_json(
        "/embeddings",
        {
            "data": [{"index": 0, "embedding": [0.5, 0.5]}],
            "usage": {"prompt_tokens": 3, "total_tokens": 3},
        },
    )
    single = await platform.embeddings.create(model="upstream-embed", input=[7, 8, 9])
    assert upstream.last.json()["input"] == [[7, 8, 9]]
    assert json.loads(single.model_dump_json())["data"][0]["embedding"] == [0.5, 0.5]
