"""The OpenAI SDK's Responses API against the gateway: text, instructions, structured
output, function tool round trips, streaming events, and the refusals it can meet."""

from __future__ import annotations

import json

import httpx
import openai
import pytest
from openai import AsyncOpenAI


@pytest.fixture
def client(platform_url: str, admin_key: str) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=f"{platform_url}/llm/v1", api_key=admin_key, max_retries=0)


WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


async def test_string_input_with_usage(client: AsyncOpenAI) -> None:
    response = await client.responses.create(
        model="echo", input="the quick brown fox", temperature=0.3
    )
    assert response.status == "completed"
    assert response.model == "echo"
    assert response.output_text == "the quick brown fox"
    assert response.usage is not None
    assert response.usage.output_tokens == 4
    assert response.usage.total_tokens == response.usage.input_tokens + 4
    assert response.temperature == 0.3


async def test_instructions_and_message_items_reach_the_model(client: AsyncOpenAI) -> None:
    response = await client.responses.create(
        model="echo",
        instructions="Repeat after me.",
        input=[
            {"role": "user", "content": "first"},
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "ok"}],
            },
            {"role": "user", "content": [{"type": "input_text", "text": "last words"}]},
        ],
    )
    assert response.output_text == "last words"
    assert response.instructions == "Repeat after me."


async def test_max_output_tokens_marks_incomplete(client: AsyncOpenAI) -> None:
    response = await client.responses.create(
        model="echo", input="one two three four five", max_output_tokens=2
    )
    assert response.output_text == "one two"
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"


async def test_json_schema_structured_output(client: AsyncOpenAI) -> None:
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    response = await client.responses.create(
        model="echo",
        input='{"ok": true}',
        text={"format": {"type": "json_schema", "name": "answer", "schema": schema}},
    )
    assert json.loads(response.output_text) == {"ok": True}


async def test_text_only_model_refuses_structured_output(client: AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.responses.create(
            model="text-only",
            input="{}",
            text={"format": {"type": "json_schema", "name": "a", "schema": {"type": "object"}}},
        )
    assert "json_schema" in caught.value.message


async def test_function_tool_round_trip(client: AsyncOpenAI) -> None:
    first = await client.responses.create(
        model="weather-bot", input="Weather in Oslo?", tools=[WEATHER_TOOL], tool_choice="auto"
    )
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1
    call = calls[0]
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Oslo"}
    second = await client.responses.create(
        model="weather-bot",
        input=[
            {"role": "user", "content": "Weather in Oslo?"},
            *[item.model_dump(exclude_none=True) for item in first.output],
            {"type": "function_call_output", "call_id": call.call_id, "output": '{"sky": "clear"}'},
        ],
        tools=[WEATHER_TOOL],
        tool_choice={"type": "function", "name": "get_weather"},
    )
    assert second.output_text == "It is sunny in Oslo."


async def test_streamed_text_events(client: AsyncOpenAI) -> None:
    stream = await client.responses.create(model="echo", input="stream me please", stream=True)
    kinds, text, done_text, final = [], "", None, None
    async for event in stream:
        kinds.append(event.type)
        if event.type == "response.output_text.delta":
            text += event.delta
        elif event.type == "response.output_text.done":
            done_text = event.text
        elif event.type == "response.completed":
            final = event.response
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[2:4] == ["response.output_item.added", "response.content_part.added"]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert text == done_text == "stream me please"
    assert final is not None and final.output_text == "stream me please"
    assert final.usage is not None and final.usage.output_tokens == 3


async def test_streamed_function_call_with_the_sdk_helper(client: AsyncOpenAI) -> None:
    async with client.responses.stream(
        model="weather-bot", input="Weather?", tools=[WEATHER_TOOL]
    ) as stream:
        arguments = ""
        async for event in stream:
            if event.type == "response.function_call_arguments.delta":
                arguments += event.delta
        final = await stream.get_final_response()
    assert json.loads(arguments) == {"city": "Oslo"}
    call = final.output[0]
    assert call.type == "function_call" and call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Oslo"}


async def test_stored_responses_are_refused_clearly(client: AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.responses.create(model="echo", input="hi", store=True)
    assert caught.value.code == "store_not_supported"
    with pytest.raises(openai.BadRequestError) as caught:
        await client.responses.create(model="echo", input="hi", previous_response_id="resp_1")
    assert "input items" in caught.value.message


async def test_unsupported_items_and_tools_are_named(client: AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.responses.create(
            model="echo", input=[{"type": "reasoning", "id": "r", "summary": []}]
        )
    assert "'reasoning'" in caught.value.message
    with pytest.raises(openai.BadRequestError) as caught:
        await client.responses.create(
            model="echo", input="hi", tools=[{"type": "web_search_preview"}]
        )
    assert "'web_search_preview'" in caught.value.message


async def test_bad_bodies_get_openai_errors(platform_url: str, admin_key: str) -> None:
    headers = {"Authorization": f"Bearer {admin_key}"}
    async with httpx.AsyncClient(base_url=f"{platform_url}/llm/v1", headers=headers) as http:
        for body in (
            {"model": "echo"},
            {"model": "echo", "input": []},
            {"model": "echo", "input": 3},
        ):
            answer = await http.post("/responses", json=body)
            assert answer.status_code == 400, body
            assert answer.json()["error"]["type"] == "invalid_request_error"
        unknown = await http.post("/responses", json={"model": "nope", "input": "hi"})
        assert unknown.status_code == 404
        assert unknown.json()["error"]["code"] == "model_not_found"
        anonymous = await httpx.AsyncClient().post(
            f"{platform_url}/llm/v1/responses", json={"model": "echo", "input": "hi"}
        )
        assert anonymous.status_code == 401
