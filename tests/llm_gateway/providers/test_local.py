"""The ``local`` provider: request translation on its own, then the real packaged models.

Tests marked ``local_model`` drive SmolLM2-135M (llama.cpp) and MiniLM (onnxruntime) in this
process; each model loads once for the module. Answers are sampled greedily and kept short.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Iterator
from contextlib import aclosing
from importlib.util import find_spec
from typing import Any

import pytest

# Checked without importing: the provider module must be the one to load xllamacpp, because
# it configures OpenMP first.
if find_spec("xllamacpp") is None or find_spec("onnxruntime") is None:
    pytest.skip("needs the 'local' extra", allow_module_level=True)

from agentic_platform.errors import (
    ConfigurationError,
    UnsupportedFeatureError,
    UpstreamRequestError,
)
from agentic_platform.llm_gateway.catalog import Deployment
from agentic_platform.llm_gateway.providers import local, local_answer, local_grammar, local_request
from agentic_platform.llm_gateway.providers.local_embedder import MiniLMEmbedder
from agentic_platform.llm_gateway.providers.registry import (
    build_chat_provider,
    build_embedding_provider,
)
from agentic_platform.llm_gateway.schemas import (
    ChatCompletionChunk,
    ChatCompletionRequest,
)

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {
            "type": "object",
            "properties": {"timezone": {"type": "string"}},
            "required": ["timezone"],
        },
    },
}
NAMED_WEATHER = {"type": "function", "function": {"name": "get_weather"}}


def make_request(content: str = "Say hello to Ada.", **fields: Any) -> ChatCompletionRequest:
    body = {
        "model": "smollm2-135m",
        "messages": [{"role": "user", "content": content}],
        "temperature": 0,
        "max_tokens": 16,
        **fields,
    }
    return ChatCompletionRequest.model_validate(body)


def chat_deployment(**options: Any) -> Deployment:
    return Deployment(provider="local", model="smollm2-135m-instruct", options=options)


# --- translation, without a model --------------------------------------------------------


def test_tools_are_described_in_the_system_message_and_history_is_text() -> None:
    request = make_request(
        tools=[WEATHER],
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Oslo?"},
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "Sunny"},
        ],
    )
    payload, _ = local_request.build_payload(request)
    system, _, assistant, tool = payload["messages"]
    assert system["content"].startswith("Be brief.\n\n")
    assert '"name": "get_weather"' in system["content"]
    assert json.loads(assistant["content"]) == {
        "name": "get_weather",
        "arguments": {"city": "Oslo"},
    }
    assert tool == {"role": "tool", "content": "Sunny"}
    assert "tools" not in payload and "grammar" not in payload
    assert payload["stream"] is True and payload["stream_options"] == {"include_usage": True}


def test_a_plain_request_without_a_system_message_gets_the_default_one() -> None:
    payload, _ = local_request.build_payload(make_request())
    assert payload["messages"] == [
        {"role": "system", "content": local_request.DEFAULT_SYSTEM_PROMPT},
        {"role": "user", "content": "Say hello to Ada."},
    ]
    own, _ = local_request.build_payload(make_request(), system_prompt="Speak like a pirate.")
    assert own["messages"][0] == {"role": "system", "content": "Speak like a pirate."}
    off, _ = local_request.build_payload(make_request(), system_prompt="")
    assert [message["role"] for message in off["messages"]] == ["user"]


@pytest.mark.parametrize(
    "fields",
    [
        {
            "messages": [
                {"role": "developer", "content": "Be brief."},
                {"role": "user", "content": "Hi"},
            ]
        },
        {
            "messages": [
                {"role": "user", "content": "Hi"},
                {"role": "system", "content": "Be brief."},
            ]
        },
        {"response_format": {"type": "json_object"}},
        {"tools": [WEATHER]},
    ],
    ids=["developer", "system-later", "json", "tools"],
)
def test_the_default_system_message_stays_out_when_the_request_instructs(
    fields: dict[str, Any],
) -> None:
    payload, _ = local_request.build_payload(make_request(**fields))
    texts = [message["content"] for message in payload["messages"]]
    assert all(local_request.DEFAULT_SYSTEM_PROMPT not in text for text in texts)


def _grammar_schema(payload: dict[str, Any]) -> dict[str, Any]:
    """The JSON schema inside a compact llguidance grammar."""
    header, start = payload["grammar"].split("\n", 1)
    assert header == "%llguidance {}" and start.startswith("start: %json ")
    schema: dict[str, Any] = json.loads(start.removeprefix("start: %json "))
    assert schema.pop("x-guidance") == local_grammar.COMPACT_JSON
    return schema


def test_forced_tool_choices_constrain_the_output() -> None:
    named, _ = local_request.build_payload(
        make_request(tools=[WEATHER, TIME], tool_choice=NAMED_WEATHER)
    )
    parameters = WEATHER["function"]["parameters"]  # type: ignore[index]
    assert _grammar_schema(named) == {**parameters, "additionalProperties": False}
    required, _ = local_request.build_payload(
        make_request(tools=[WEATHER, TIME], tool_choice="required")
    )
    names = [v["properties"]["name"]["const"] for v in _grammar_schema(required)["anyOf"]]
    assert names == ["get_weather", "get_time"]
    auto, _ = local_request.build_payload(make_request(tools=[WEATHER]))
    assert "grammar" not in auto


def test_a_schema_that_cannot_constrain_the_model_is_the_callers_error() -> None:
    bad = {"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "x"}}}
    with pytest.raises(UpstreamRequestError) as caught:
        local_request.build_payload(make_request(response_format=bad))
    assert caught.value.status_code == 400 and "Invalid type" in caught.value.message
    json_object, _ = local_request.build_payload(
        make_request(response_format={"type": "json_object"})
    )
    assert _grammar_schema(json_object) == {"type": "object"}


def test_sampling_fields_and_response_format_are_passed_on() -> None:
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}}
    request = make_request(
        max_completion_tokens=7,
        top_p=0.5,
        stop=["\n"],
        seed=3,
        top_k=5,
        logit_bias={"1": 5},
        response_format={"type": "json_schema", "json_schema": {"name": "r", "schema": schema}},
    )
    payload, _ = local_request.build_payload(request)
    assert payload["max_tokens"] == 7 and payload["top_p"] == 0.5 and payload["top_k"] == 5
    assert payload["stop"] == ["\n"] and payload["seed"] == 3 and "logit_bias" not in payload
    assert _grammar_schema(payload) == {**schema, "additionalProperties": False}
    assert "model" not in payload


def test_json_tool_calls_are_recognised_only_for_known_tools() -> None:
    names = frozenset({"get_weather"})
    calls = local_answer.parse_tool_calls(
        '{"name": "get_weather", "arguments": {"city": "Oslo"}}', names
    )
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("get_weather", {"city": "Oslo"})
    ]
    assert local_answer.parse_tool_calls('{"name": "rm_rf", "arguments": {}}', names) == []
    assert local_answer.parse_tool_calls("Sunny today", names) == []


def test_images_are_refused() -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    with pytest.raises(UnsupportedFeatureError):
        local_request.build_payload(make_request(content=[image]))  # type: ignore[arg-type]


def test_wrong_settings_fail_at_construction() -> None:
    with pytest.raises(ConfigurationError, match="model_path"):
        local.chat_provider(Deployment(provider="local", model="llama-3-8b"))
    with pytest.raises(ConfigurationError, match="not found"):
        local.chat_provider(chat_deployment(model_path="/nonexistent/model.gguf"))
    with pytest.raises(ConfigurationError, match="n_ctx"):
        local.chat_provider(chat_deployment(n_ctx=0))
    with pytest.raises(ConfigurationError, match=r"options\.system_prompt"):
        local.chat_provider(chat_deployment(system_prompt=["Be brief."]))
    with pytest.raises(ConfigurationError, match=r"options\.model_path"):
        local.embedding_provider(Deployment(provider="local", model="bge-small"))


def test_the_registry_builds_the_local_providers() -> None:
    assert isinstance(build_chat_provider(chat_deployment()), local.LocalChatModel)
    embedder = build_embedding_provider(Deployment(provider="local", model="all-minilm-l6-v2"))
    assert isinstance(embedder, MiniLMEmbedder)


# --- the real chat model -----------------------------------------------------------------


@pytest.fixture(scope="module")
def chat() -> Iterator[local.LocalChatModel]:
    provider = local.chat_provider(chat_deployment(n_ctx=2048))
    asyncio.run(provider.load())
    yield provider
    asyncio.run(provider.aclose())


async def collect(provider: local.LocalChatModel, request: ChatCompletionRequest) -> list[Any]:
    return [chunk async for chunk in provider.stream(request)]


@pytest.mark.local_model
async def test_complete_returns_text_and_usage(chat: local.LocalChatModel) -> None:
    completion = await chat.complete(make_request())
    choice = completion.choices[0]
    assert choice.message.content and choice.message.content.strip()
    assert choice.finish_reason in {"stop", "length"}
    assert completion.model == "smollm2-135m"
    usage = completion.usage
    assert usage.prompt_tokens > 0 and 0 < usage.completion_tokens <= 16
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


@pytest.mark.local_model
async def test_the_default_system_prompt_makes_the_first_answer_right(
    chat: local.LocalChatModel,
) -> None:
    """The same seeds, with the default system message and with it turned off."""
    bare = local.chat_provider(chat_deployment(n_ctx=2048, system_prompt=""))

    async def right(provider: local.LocalChatModel) -> int:
        count = 0
        for seed in range(10):
            request = make_request("What is the capital of France?", temperature=0.8, seed=seed)
            completion = await provider.complete(request)
            count += "Paris" in (completion.choices[0].message.content or "")
        return count

    try:
        with_default, without = await right(chat), await right(bare)
    finally:
        await bare.aclose()
    assert with_default >= 9 and without < with_default, (with_default, without)


@pytest.mark.local_model
async def test_stream_yields_chunks_then_a_usage_chunk(chat: local.LocalChatModel) -> None:
    chunks: list[ChatCompletionChunk] = await collect(chat, make_request())
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    assert chunks[-2].choices[0].finish_reason in {"stop", "length"}
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None and last.usage.completion_tokens > 0
    assert len({chunk.id for chunk in chunks}) == 1


@pytest.mark.local_model
async def test_json_schema_answers_are_valid_json(chat: local.LocalChatModel) -> None:
    schema = {
        "type": "object",
        "properties": {"capital": {"type": "string", "maxLength": 20}},
        "required": ["capital"],
    }
    request = make_request(
        "What is the capital of France? Answer in JSON.",
        max_tokens=48,
        response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": schema}},
    )
    completion = await chat.complete(request)
    answer = json.loads(completion.choices[0].message.content or "")
    assert isinstance(answer, dict) and isinstance(answer["capital"], str)
    assert completion.choices[0].finish_reason == "stop"


@pytest.mark.local_model
async def test_a_named_tool_choice_returns_that_call(chat: local.LocalChatModel) -> None:
    request = make_request(
        "What is the weather in Paris?", max_tokens=32, tools=[WEATHER], tool_choice=NAMED_WEATHER
    )
    completion = await chat.complete(request)
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    [call] = choice.message.tool_calls or []
    assert call.function.name == "get_weather" and call.id.startswith("call_")
    assert isinstance(json.loads(call.function.arguments)["city"], str)


@pytest.mark.local_model
async def test_required_tool_choice_streams_one_of_the_tools(chat: local.LocalChatModel) -> None:
    request = make_request(
        "What is the weather in Paris?",
        max_tokens=48,
        tools=[WEATHER, TIME],
        tool_choice="required",
    )
    chunks = await collect(chat, request)
    calls = [call for c in chunks if c.choices for call in c.choices[0].delta.tool_calls or []]
    assert len(calls) == 1 and calls[0].function.name in {"get_weather", "get_time"}
    assert isinstance(json.loads(calls[0].function.arguments), dict)
    assert chunks[-2].choices[0].finish_reason == "tool_calls"


@pytest.mark.local_model
async def test_request_errors_are_mapped(chat: local.LocalChatModel) -> None:
    bad_schema = {"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "x"}}}
    with pytest.raises(UpstreamRequestError):
        await chat.complete(make_request(response_format=bad_schema))
    with pytest.raises(UpstreamRequestError) as caught:
        await chat.complete(make_request("hello " * 2100))
    assert caught.value.code == "context_length_exceeded"


@pytest.mark.local_model
async def test_the_event_loop_keeps_running_during_a_generation(
    chat: local.LocalChatModel,
) -> None:
    gaps: list[float] = []

    async def ticker() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(ticker())
    started = time.perf_counter()
    completion = await chat.complete(make_request("Tell me a story.", max_tokens=48))
    elapsed = time.perf_counter() - started
    task.cancel()
    assert completion.usage.completion_tokens > 0
    assert len(gaps) >= 10 and max(gaps) < max(0.25, elapsed / 4)


async def timed_small_request(chat: local.LocalChatModel) -> float:
    started = time.perf_counter()
    await chat.complete(make_request(max_tokens=4))
    return time.perf_counter() - started


@pytest.mark.local_model
async def test_a_disconnected_stream_stops_generating(chat: local.LocalChatModel) -> None:
    baseline = await timed_small_request(chat)
    long = make_request("Write a very long story.", max_tokens=1500, temperature=1.0)
    async with aclosing(chat.stream(long)) as stream:
        received = 0
        async for _ in stream:
            received += 1
            if received == 3:
                break  # the client went away
    # A request queued behind 1500 unwanted tokens would take ~100x the baseline.
    assert await timed_small_request(chat) < 10 * baseline + 1.0


@pytest.mark.local_model
async def test_a_cancelled_completion_stops_generating(chat: local.LocalChatModel) -> None:
    baseline = await timed_small_request(chat)
    long = make_request("Write a very long story.", max_tokens=1500, temperature=1.0)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(chat.complete(long), timeout=baseline)
    assert await timed_small_request(chat) < 10 * baseline + 1.0


# --- the real embedder -------------------------------------------------------------------


@pytest.fixture(scope="module")
def embedder() -> Iterator[MiniLMEmbedder]:
    provider = local.embedding_provider(Deployment(provider="local", model="all-minilm-l6-v2"))
    asyncio.run(provider.load())
    yield provider
    asyncio.run(provider.aclose())


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


@pytest.mark.local_model
async def test_embeddings_are_unit_vectors_that_capture_meaning(embedder: MiniLMEmbedder) -> None:
    texts = [
        "The cat sits on the mat.",
        "A cat is sitting on a rug.",
        "Quarterly revenue grew by ten percent.",
    ]
    result = await embedder.embed(texts)
    assert [len(vector) for vector in result.vectors] == [384, 384, 384]
    for vector in result.vectors:
        assert math.isclose(math.sqrt(cosine(vector, vector)), 1.0, abs_tol=1e-4)
    cat, paraphrase, revenue = result.vectors
    assert cosine(cat, paraphrase) > cosine(cat, revenue) + 0.3
    assert result.prompt_tokens == 28  # WordPiece tokens with [CLS] and [SEP], no padding


@pytest.mark.local_model
async def test_batched_embeddings_keep_their_order(embedder: MiniLMEmbedder) -> None:
    texts = [f"Item {i}: " + "word " * (i * 7 % 23) for i in range(40)]  # two batches
    batched = (await embedder.embed(texts)).vectors
    for index in (0, 17, 39):
        [alone] = (await embedder.embed([texts[index]])).vectors
        assert cosine(batched[index], alone) > 0.9999
    assert (await embedder.embed([])).vectors == []


@pytest.mark.local_model
async def test_a_query_is_embedded_before_the_rest_of_a_bulk_request(
    embedder: MiniLMEmbedder,
) -> None:
    bulk_texts = [f"Turn {i} of a long conversation about gardening." for i in range(1500)]
    bulk = asyncio.create_task(embedder.embed(bulk_texts))
    await asyncio.sleep(0.05)  # the bulk request is in the worker
    started = time.perf_counter()
    [query] = (await embedder.embed(["What did I plant in spring?"])).vectors
    query_seconds = time.perf_counter() - started
    assert not bulk.done()  # with first come, first served it would wait for all 1500
    result = await bulk
    bulk_seconds = time.perf_counter() - started
    assert query_seconds < bulk_seconds / 3
    [alone] = (await embedder.embed([bulk_texts[700]])).vectors
    assert cosine(result.vectors[700], alone) > 0.9999  # the split batches keep their order
    assert len(query) == 384


@pytest.mark.local_model
async def test_a_cancelled_bulk_request_frees_the_embedder(embedder: MiniLMEmbedder) -> None:
    bulk = asyncio.create_task(embedder.embed([f"Text {i} here." for i in range(3000)]))
    await asyncio.sleep(0.05)
    bulk.cancel()
    with pytest.raises(asyncio.CancelledError):
        await bulk
    started = time.perf_counter()
    await embedder.embed([f"Another text {i}." for i in range(64)])  # bulk priority too
    assert time.perf_counter() - started < 2.0  # not behind 3000 abandoned texts


# --- llama.cpp chunks to canonical chunks, without a model ---------------------------------


def llama_chunks(*texts: str, finish: str = "stop") -> list[dict[str, Any]]:
    """What llama.cpp's streaming handler passes to its callback."""
    role = {"role": "assistant", "content": None}
    usage = {
        "prompt_tokens": 10,
        "completion_tokens": 3,
        "prompt_tokens_details": {"cached_tokens": 4},
    }
    return [
        {"choices": [{"index": 0, "delta": role, "finish_reason": None}]},
        *(
            {"choices": [{"index": 0, "delta": {"content": t}, "finish_reason": None}]}
            for t in texts
        ),
        {"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]},
        {"choices": [], "usage": usage},
    ]


def translate(
    request: ChatCompletionRequest, raws: list[dict[str, Any]]
) -> list[ChatCompletionChunk]:
    _, plan = local_request.build_payload(request)
    translator = local_answer.ChunkTranslator(plan, "chatcmpl-1", request.model)
    return [chunk for raw in raws for chunk in translator.translate(raw)] + translator.closing()


def test_with_tools_on_auto_a_text_answer_streams_at_once() -> None:
    chunks = translate(make_request(tools=[WEATHER]), llama_chunks("Hello", " there"))
    assert [c.choices[0].delta.content for c in chunks[:3]] == ["", "Hello", " there"]
    assert chunks[-2].choices[0].finish_reason == "stop"
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and usage is not None
    assert usage.total_tokens == 13 and usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 4


def test_with_tools_on_auto_a_json_call_becomes_a_tool_call() -> None:
    raws = llama_chunks('{"name": "get_weather",', ' "arguments": {"city": "Oslo"}}')
    chunks = translate(make_request(tools=[WEATHER]), raws)
    assert not any(c.choices and c.choices[0].delta.content for c in chunks)
    [call] = [t for c in chunks if c.choices for t in c.choices[0].delta.tool_calls or []]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments or "") == {"city": "Oslo"}
    assert chunks[-2].choices[0].finish_reason == "tool_calls"


def test_json_that_is_complete_at_the_token_limit_has_finished() -> None:
    request = make_request(response_format={"type": "json_object"})
    chunks = translate(request, llama_chunks('{"a": 1}', "\n", finish="length"))
    assert chunks[-2].choices[0].finish_reason == "stop"
    truncated = translate(request, llama_chunks('{"a": ', finish="length"))
    assert truncated[-2].choices[0].finish_reason == "length"


def test_error_chunks_raise_platform_errors() -> None:
    error = {"code": 400, "message": "too long", "type": "exceed_context_size_error"}
    with pytest.raises(UpstreamRequestError) as caught:
        translate(make_request(), [{"error": error}])
    assert caught.value.code == "context_length_exceeded"
