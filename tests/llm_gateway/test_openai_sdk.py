"""The official OpenAI SDK, LangChain and PydanticAI work against the gateway unchanged."""

from __future__ import annotations

import base64
import json
import struct

import pytest
from openai import AsyncOpenAI, AuthenticationError, NotFoundError

from agentic_platform.agents.registry import builtin_factories


@pytest.fixture
def client(platform_url: str, admin_key: str) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=f"{platform_url}/llm/v1", api_key=admin_key, max_retries=0)


async def test_plain_completion(client: AsyncOpenAI) -> None:
    completion = await client.chat.completions.create(
        model="echo",
        messages=[
            {"role": "system", "content": "Repeat after me."},
            {"role": "user", "content": "the quick brown fox"},
        ],
        temperature=0.2,
        seed=7,
        user="alice",
    )
    assert completion.model == "echo"
    assert completion.choices[0].message.content == "the quick brown fox"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 7
    assert completion.usage.completion_tokens == 4
    assert completion.usage.total_tokens == 11


async def test_max_tokens_truncates_with_length_reason(client: AsyncOpenAI) -> None:
    completion = await client.chat.completions.create(
        model="echo",
        messages=[{"role": "user", "content": "one two three four five"}],
        max_completion_tokens=2,
    )
    assert completion.choices[0].message.content == "one two"
    assert completion.choices[0].finish_reason == "length"


@pytest.mark.parametrize(
    ("stop", "answer"),
    [
        ("three", "one two "),
        (["five", " t"], "one"),
        (["absent"], "one two three four five"),
    ],
)
async def test_stop_ends_the_answer_where_a_sequence_begins(
    client: AsyncOpenAI, stop: str | list[str], answer: str
) -> None:
    completion = await client.chat.completions.create(
        model="echo",
        messages=[{"role": "user", "content": "one two three four five"}],
        stop=stop,
    )
    assert completion.choices[0].message.content == answer
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == len(answer.split())


async def test_stop_before_the_token_limit_finishes_with_stop_in_a_stream(
    client: AsyncOpenAI,
) -> None:
    stream = await client.chat.completions.create(
        model="echo",
        messages=[{"role": "user", "content": "one two three four five"}],
        stop=["three"],
        max_completion_tokens=4,
        stream=True,
    )
    text, finish = "", None
    async for chunk in stream:
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
    assert (text, finish) == ("one two ", "stop")


async def test_streaming_with_usage(client: AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model="echo",
        messages=[{"role": "user", "content": "stream me please"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, finish, usage = "", None, None
    async for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
    assert text == "stream me please"
    assert finish == "stop"
    assert usage is not None and usage.completion_tokens == 3


async def test_streaming_without_usage_sends_no_usage_chunk(client: AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model="echo", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    chunks = [chunk async for chunk in stream]
    assert all(chunk.usage is None for chunk in chunks)
    assert all(chunk.choices for chunk in chunks)


async def test_tool_calling_round_trip(client: AsyncOpenAI) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    messages: list[dict[str, object]] = [{"role": "user", "content": "Weather in Oslo?"}]
    first = await client.chat.completions.create(
        model="weather-bot", messages=messages, tools=tools, tool_choice="auto"
    )
    call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert first.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Oslo"}
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": '{"sky": "clear"}'},
    ]
    second = await client.chat.completions.create(
        model="weather-bot",
        messages=messages,
        tools=tools,
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    assert second.choices[0].message.content == "It is sunny in Oslo."


async def test_streamed_tool_call(client: AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model="weather-bot",
        messages=[{"role": "user", "content": "Weather?"}],
        tools=[{"type": "function", "function": {"name": "get_weather", "parameters": {}}}],
        stream=True,
    )
    names, arguments, finish = [], "", None
    async for chunk in stream:
        for choice in chunk.choices:
            for call in choice.delta.tool_calls or []:
                if call.function and call.function.name:
                    names.append(call.function.name)
                arguments += (call.function.arguments or "") if call.function else ""
            finish = choice.finish_reason or finish
    assert names == ["get_weather"]
    assert json.loads(arguments) == {"city": "Oslo"}
    assert finish == "tool_calls"


async def test_content_parts_and_json_response_format(client: AsyncOpenAI) -> None:
    completion = await client.chat.completions.create(
        model="echo",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": '{"ok": true}'},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                ],
            }
        ],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": {"type": "object"}},
        },
    )
    assert json.loads(completion.choices[0].message.content or "") == {"ok": True}


async def test_embeddings_float_and_base64(client: AsyncOpenAI) -> None:
    floats = await client.embeddings.create(
        model="test-embed", input=["alpha", "beta"], encoding_format="float"
    )
    assert [item.index for item in floats.data] == [0, 1]
    assert len(floats.data[0].embedding) == 8
    assert floats.usage.prompt_tokens == 2
    single = await client.embeddings.create(model="test-embed", input="alpha")
    # The SDK asks for base64 by default and decodes it: equal to the float answer.
    assert single.data[0].embedding == pytest.approx(floats.data[0].embedding, abs=1e-6)


async def test_embeddings_base64_wire_format(platform_url: str, admin_key: str) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=f"{platform_url}/llm/v1") as http:
        response = await http.post(
            "/embeddings",
            headers={"Authorization": f"Bearer {admin_key}"},
            json={"model": "test-embed", "input": "alpha", "encoding_format": "base64"},
        )
    encoded = response.json()["data"][0]["embedding"]
    vector = struct.unpack("<8f", base64.b64decode(encoded))
    assert sum(v * v for v in vector) == pytest.approx(1.0, abs=1e-5)


async def test_models_list(client: AsyncOpenAI) -> None:
    page = await client.models.list()
    catalog = {"echo", "weather-bot", "text-only", "test-embed"}
    agents = {f"agent:{name}" for name in builtin_factories()}
    assert {model.id for model in page.data} == catalog | agents


async def test_sdk_errors(client: AsyncOpenAI, platform_url: str) -> None:
    with pytest.raises(NotFoundError, match="does not exist"):
        await client.chat.completions.create(
            model="nope", messages=[{"role": "user", "content": "hi"}]
        )
    stranger = AsyncOpenAI(base_url=f"{platform_url}/llm/v1", api_key="agp_wrong", max_retries=0)
    with pytest.raises(AuthenticationError):
        await stranger.models.list()


async def test_langchain_chat_openai(platform_url: str, admin_key: str) -> None:
    from langchain_openai import ChatOpenAI

    model = ChatOpenAI(model="echo", base_url=f"{platform_url}/llm/v1", api_key=admin_key)
    reply = await model.ainvoke("hello from langchain")
    assert reply.content == "hello from langchain"
    streamed = "".join([str(part.content) async for part in model.astream("streamed words")])
    assert streamed == "streamed words"


async def test_pydantic_ai_openai_model(platform_url: str, admin_key: str) -> None:
    from pydantic_ai import Agent
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    model = OpenAIChatModel(
        "echo", provider=OpenAIProvider(base_url=f"{platform_url}/llm/v1", api_key=admin_key)
    )
    result = await Agent(model).run("hello from pydantic-ai")
    assert result.output == "hello from pydantic-ai"
