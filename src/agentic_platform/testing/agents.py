"""Scripted models for agent tests: deterministic tool users for the ``test`` provider.

* ``calc-bot`` (:func:`calculator_reply`): asks the ``calculator`` to evaluate the user's
  message, then answers "The answer is <result>." from the tool's result (or repeats the
  tool's error);
* ``loop-bot`` (:func:`looping_reply`): calls the calculator forever (step limits);
* ``history-bot`` (:func:`history_reply`): answers with what it was shown: the number of
  earlier user turns, the recalled memories in the system prompt, and the new message
  (sessions and isolation);
* ``slow-bot``: the echo model, two seconds a word (cancellation, timeouts);
* ``priced-calc-bot``: ``calc-bot`` at $1,000 / $2,000 per million tokens (costs, budgets);
* ``broken-bot`` (:func:`failing_reply`): the provider fails every call (model errors);
* ``kb-bot`` (:func:`knowledge_base_reply`): searches the knowledge base for the message,
  then answers "Found: <the best passage's text>".
"""

from __future__ import annotations

import json
from typing import Any

from agentic_platform.errors import UpstreamUnavailableError
from agentic_platform.llm_gateway.catalog import Deployment, ModelEntry
from agentic_platform.llm_gateway.schemas import (
    ChatCompletionRequest,
    SystemMessage,
    ToolMessage,
    UserMessage,
    message_text,
)

EVERY = {"chat", "streaming", "tools", "json_schema", "vision"}


def _last_user_text(request: ChatCompletionRequest) -> str:
    users = [m for m in request.messages if isinstance(m, UserMessage)]
    return message_text(users[-1].content) if users else ""


def calculator_reply(request: ChatCompletionRequest) -> str | dict[str, object]:
    last = request.messages[-1]
    if isinstance(last, ToolMessage):
        found = (
            json.loads(message_text(last.content))
            if message_text(last.content)[:1] == "{"
            else None
        )
        if isinstance(found, dict) and "error" in found:
            return f"The tool failed: {found['error']}"
        return f"The answer is {message_text(last.content)}."
    expression = _last_user_text(request)
    return {"tool_calls": [{"name": "calculator", "arguments": {"expression": expression}}]}


def knowledge_base_reply(request: ChatCompletionRequest) -> str | dict[str, object]:
    last = request.messages[-1]
    if isinstance(last, ToolMessage):
        found = json.loads(message_text(last.content))
        hits = found.get("results") or []
        return f"Found: {hits[0]['text']}" if hits else f"Nothing found ({found})."
    query = _last_user_text(request)
    return {"tool_calls": [{"name": "search_knowledge_base", "arguments": {"query": query}}]}


def looping_reply(_request: ChatCompletionRequest) -> dict[str, object]:
    return {"tool_calls": [{"name": "calculator", "arguments": {"expression": "1 + 1"}}]}


def history_reply(request: ChatCompletionRequest) -> str:
    earlier = sum(isinstance(m, UserMessage) for m in request.messages) - 1
    system = next((m for m in request.messages if isinstance(m, SystemMessage)), None)
    known = (
        message_text(system.content).split("What you know about the user:")[-1] if system else ""
    )
    remembered = " | ".join(line[2:] for line in known.splitlines() if line.startswith("- "))
    history = [message_text(m.content) for m in request.messages[:-1] if isinstance(m, UserMessage)]
    return (
        f"earlier={earlier}; history={' / '.join(history)}; memories={remembered}; "
        f"message={_last_user_text(request)}"
    )


def failing_reply(_request: ChatCompletionRequest) -> str:
    raise UpstreamUnavailableError("the scripted model is down")


def _function(alias: str, function: str, **deployment: Any) -> ModelEntry:
    return ModelEntry(
        alias=alias,
        capabilities=EVERY,
        deployments=[
            Deployment(
                provider="test",
                model=alias,
                options={"function": f"agentic_platform.testing.agents:{function}"},
                **deployment,
            )
        ],
    )


def agent_models() -> list[ModelEntry]:
    """The models the module docstring lists."""
    return [
        _function("calc-bot", "calculator_reply"),
        _function("loop-bot", "looping_reply"),
        _function("history-bot", "history_reply"),
        _function(
            "priced-calc-bot",
            "calculator_reply",
            input_price_per_mtok=1000.0,
            output_price_per_mtok=2000.0,
        ),
        _function("broken-bot", "failing_reply", max_retries=0),
        _function("kb-bot", "knowledge_base_reply"),
        ModelEntry(
            alias="slow-bot",
            capabilities=EVERY,
            deployments=[Deployment(provider="test", model="slow", options={"delay_seconds": 2.0})],
        ),
    ]
