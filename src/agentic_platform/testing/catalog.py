"""A model catalog of the scripted ``test`` provider: deterministic, instant and offline,
for tests of the platform and of agents built on it."""

from __future__ import annotations

from agentic_platform.llm_gateway.catalog import Deployment, ModelEntry
from agentic_platform.llm_gateway.schemas import ChatCompletionRequest, ToolMessage


def weather_reply(request: ChatCompletionRequest) -> str | dict[str, object]:
    """A tool-using model: asks for the weather, then answers from the tool's result."""
    if isinstance(request.messages[-1], ToolMessage):
        return "It is sunny in Oslo."
    return {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Oslo"}}]}


def scripted_models() -> list[ModelEntry]:
    """A catalog of the scripted ``test`` provider: deterministic, instant, offline."""
    every = {"chat", "streaming", "tools", "json_schema", "vision"}
    return [
        ModelEntry(
            alias="echo",
            capabilities=every,
            deployments=[Deployment(provider="test", model="echo")],
        ),
        ModelEntry(
            alias="weather-bot",
            capabilities=every,
            deployments=[
                Deployment(
                    provider="test",
                    model="tools",
                    options={"function": "agentic_platform.testing.catalog:weather_reply"},
                )
            ],
        ),
        ModelEntry(
            alias="text-only",
            capabilities={"chat"},
            deployments=[Deployment(provider="test", model="plain")],
        ),
        ModelEntry(
            alias="test-embed",
            kind="embedding",
            capabilities={"embeddings"},
            deployments=[Deployment(provider="test", model="embed", options={"dimensions": 8})],
        ),
    ]


def scripted_rerank_model(alias: str = "test-rerank") -> ModelEntry:
    """The scripted reranker (query-word overlap) as a catalog entry of kind ``rerank``."""
    return ModelEntry(
        alias=alias,
        kind="rerank",
        capabilities={"rerank"},
        deployments=[Deployment(provider="test", model="overlap")],
    )
