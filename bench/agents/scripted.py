"""What the platform under test loads from the benchmark (``PYTHONPATH`` is the repository).

* :func:`tool_rounds`, a scripted ``test``-provider model: the user's message is ``steps N``;
  the model calls the calculator until it has N - 1 results, then answers in text, so a run
  is exactly N model calls and N - 1 tool calls, with no model time to speak of;
* :class:`PlainAgent` (``bench-plain``): one streamed model call with the user's message
  and no tools, so the local model's tokens/s through an agent compare with the same request
  made directly.
"""

from __future__ import annotations

from typing import Any

from agentic_platform.agents.context import RunContext
from agentic_platform.agents.protocol import TEXT_INPUT, AgentKind
from agentic_platform.llm_gateway.schemas import (
    ChatCompletionRequest,
    ToolMessage,
    UserMessage,
    message_text,
)

PLAIN_SYSTEM = "You are a storyteller. Answer at length."


def steps_of(text: str) -> int:
    """N in ``steps N`` (at least 1)."""
    words = text.split()
    return max(int(words[1]), 1) if len(words) == 2 and words[0] == "steps" else 1


def tool_rounds(request: ChatCompletionRequest) -> str | dict[str, object]:
    users = [m for m in request.messages if isinstance(m, UserMessage)]
    steps = steps_of(message_text(users[-1].content)) if users else 1
    results = sum(isinstance(m, ToolMessage) for m in request.messages)
    if results >= steps - 1:
        return f"done after {results} tool calls"
    return {"tool_calls": [{"name": "calculator", "arguments": {"expression": f"{results} + 1"}}]}


class PlainAgent:
    name = "bench-plain"
    description = "One model call without tools (the benchmark's tokens/s agent)."
    kind: AgentKind = "agent"
    tools: tuple[str, ...] = ()
    input_schema: dict[str, Any] = TEXT_INPUT

    async def run(self, ctx: RunContext) -> str:
        completion = await ctx.chat(messages=ctx.messages(PLAIN_SYSTEM), temperature=0)
        return completion.choices[0].message.content or ""
