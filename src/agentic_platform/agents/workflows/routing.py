"""``routing``: a classifier call picks one specialised handler for the message.

The classifier answers ``{"route": "<label>"}``; the routes are ``math`` (the model with the
calculator), ``knowledge`` (an answer from the knowledge-base passages; offered only when the
caller gave knowledge bases) and ``general``. A label that is not offered, or an answer that
cannot be read, goes to the default route, ``general``. The route taken is the name of the
second step (``route:math``, ``route:knowledge``, ``route:general``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from agentic_platform.agents.context import RunContext
from agentic_platform.agents.diy.agent import answer_with_tools
from agentic_platform.agents.workflows.steps import (
    SEARCH_TOOL,
    Workflow,
    ask_json,
    ground,
    prompt_messages,
    reply,
    with_passages,
)

DEFAULT_ROUTE = "general"
ROUTES: dict[str, str] = {
    "math": "arithmetic or a calculation with numbers",
    "knowledge": "a question about the team's documents",
    "general": "anything else",
}

CLASSIFIER_PROMPT = "You sort requests into categories. Reply with JSON only."
MATH_PROMPT = (
    "You solve calculations. Use the calculator tool for every piece of arithmetic, then "
    "answer with the result in one sentence."
)
KNOWLEDGE_PROMPT = (
    "You answer from the team's documents only: use the passages given, cite them by number, "
    "and say so when they do not hold the answer."
)
GENERAL_PROMPT = "You are a helpful assistant. Answer briefly and plainly."


class Routing(Workflow):
    name = "routing"
    description = (
        "A classifier picks a specialised handler (math with the calculator, a knowledge-base "
        "answer, or a general answer); an unexpected label goes to the general one."
    )
    tools: tuple[str, ...] = ("calculator", SEARCH_TOOL)

    async def run(self, ctx: RunContext) -> str:
        offered = [name for name in ROUTES if name != "knowledge" or ctx.knowledge_bases]
        route = await _classify(ctx, offered)
        handlers: dict[str, Callable[[RunContext], Awaitable[str]]] = {
            "math": _math,
            "knowledge": _knowledge,
            "general": _general,
        }
        async with ctx.step(f"route:{route}"):
            return await handlers[route](ctx)


async def _classify(ctx: RunContext, offered: list[str]) -> str:
    """The route the classifier picked among ``offered``, or the default one."""
    categories = "\n".join(f"- {name}: {ROUTES[name]}" for name in offered)
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {"route": {"type": "string", "enum": offered}},
        "required": ["route"],
    }
    answer = await ask_json(
        ctx,
        "classify",
        CLASSIFIER_PROMPT,
        f"Categories:\n{categories}\n\nRequest:\n{ctx.text}\n\n"
        'Which category is the request? Reply as JSON: {"route": "<category>"}.',
        schema,
    )
    label = str((answer or {}).get("route", "")).strip().lower()
    return label if label in offered else DEFAULT_ROUTE


async def _math(ctx: RunContext) -> str:
    """The model with the calculator, until it answers in text (``agents.max_steps``
    bounds the calls)."""
    calculator = ctx.tools.get("calculator")
    tools = [calculator.definition()] if calculator is not None else []
    return await answer_with_tools(ctx, prompt_messages(ctx, MATH_PROMPT, ctx.text), tools)


async def _knowledge(ctx: RunContext) -> str:
    passages = await ground(ctx, ctx.text)
    return await reply(ctx, KNOWLEDGE_PROMPT, with_passages(ctx.text, passages))


async def _general(ctx: RunContext) -> str:
    return await reply(ctx, GENERAL_PROMPT, ctx.text)
