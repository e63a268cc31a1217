"""``diy-agent``: a tool-calling loop in plain Python, the reference for every other agent.

Ask the model with the tools on offer; if it calls tools, run them and hand the results
back; repeat until it answers in text. The context bounds the loop (``agents.max_steps``
model calls) and the time each tool may take; everything goes through the gateways as the
user.
"""

from __future__ import annotations

from typing import Any

from agentic_platform.agents.context import RunContext
from agentic_platform.agents.protocol import TEXT_INPUT, AgentKind

SYSTEM_PROMPT = (
    "You are a helpful assistant. Use the tools when they help: the calculator for any "
    "arithmetic, the knowledge base for questions about the team's documents, recall for "
    "what the user told you before. Answer briefly and say where facts came from."
)


class DiyAgent:
    name = "diy-agent"
    description = "A short, readable tool-calling loop: the platform's reference agent."
    kind: AgentKind = "agent"
    tools: tuple[str, ...] = (
        "calculator",
        "current_time",
        "get_weather",
        "search_knowledge_base",
        "recall",
        "remember",
    )
    input_schema: dict[str, Any] = TEXT_INPUT

    async def run(self, ctx: RunContext) -> str:
        return await answer_with_tools(ctx, ctx.messages(SYSTEM_PROMPT), ctx.tools.definitions())


async def answer_with_tools(
    ctx: RunContext, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
) -> str:
    """The loop: ask the model with ``tools``, run the calls it makes, hand back the results,
    until it answers in text (its answer)."""
    offered = tools or None
    while True:  # ctx.chat raises StepLimitReached after agents.max_steps calls
        completion = await ctx.chat(messages=messages, tools=offered)
        reply = completion.choices[0].message
        if not reply.tool_calls:
            return reply.content or ""
        messages.append(reply.model_dump(exclude_none=True))
        for call in reply.tool_calls:
            result = await ctx.call_tool(
                call.function.name, call.function.arguments, call_id=call.id
            )
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
