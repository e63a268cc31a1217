"""A team's own agent, as a team would write it: hosted through ``agents.modules`` or an
entry point."""

from __future__ import annotations

from typing import Any

from agentic_platform.agents.context import RunContext
from agentic_platform.agents.protocol import TEXT_INPUT


class ShoutingAgent:
    name = "team-shout"
    description = "Answers with the model's reply in capitals."
    kind = "agent"
    tools: tuple[str, ...] = ()
    input_schema: dict[str, Any] = TEXT_INPUT

    async def run(self, ctx: RunContext) -> str:
        completion = await ctx.chat(messages=ctx.messages())
        return (completion.choices[0].message.content or "").upper()


def make_agent() -> ShoutingAgent:
    return ShoutingAgent()


class NotAnAgent:
    name = "nothing"


def failing_factory() -> ShoutingAgent:
    raise RuntimeError("cannot build")


class UnknownToolAgent(ShoutingAgent):
    name = "team-tools"
    tools = ("teleport",)
