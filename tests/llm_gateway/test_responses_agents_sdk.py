"""The OpenAI Agents SDK runs an agent with a function tool against the platform's
Responses route, on the scripted ``test`` provider."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from openai import AsyncOpenAI

from agents import (
    Agent,
    OpenAIResponsesModel,
    RunConfig,
    Runner,
    function_tool,
    set_tracing_disabled,
)


@pytest.fixture(autouse=True)
def no_tracing_export() -> Iterator[None]:
    set_tracing_disabled(True)
    yield
    set_tracing_disabled(False)


@pytest.fixture
def model(platform_url: str, admin_key: str) -> OpenAIResponsesModel:
    client = AsyncOpenAI(base_url=f"{platform_url}/llm/v1", api_key=admin_key, max_retries=0)
    return OpenAIResponsesModel(model="weather-bot", openai_client=client)


def weather_agent(model: OpenAIResponsesModel, asked: list[str]) -> Agent:
    @function_tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        asked.append(city)
        return f"Clear skies in {city}."

    return Agent(name="forecaster", instructions="Use the tool.", model=model, tools=[get_weather])


async def test_agent_calls_its_tool_and_answers(model: OpenAIResponsesModel) -> None:
    asked: list[str] = []
    result = await Runner.run(
        weather_agent(model, asked), "Weather in Oslo?", run_config=RunConfig(tracing_disabled=True)
    )
    assert asked == ["Oslo"]
    assert result.final_output == "It is sunny in Oslo."
    assert sum(response.usage.output_tokens for response in result.raw_responses) > 0


async def test_streamed_agent_run(model: OpenAIResponsesModel) -> None:
    asked: list[str] = []
    run = Runner.run_streamed(
        weather_agent(model, asked), "Weather in Oslo?", run_config=RunConfig(tracing_disabled=True)
    )
    deltas = ""
    async for event in run.stream_events():
        if event.type == "raw_response_event" and event.data.type == "response.output_text.delta":
            deltas += event.data.delta
    assert asked == ["Oslo"]
    assert run.final_output == "It is sunny in Oslo."
    assert deltas == "It is sunny in Oslo."
