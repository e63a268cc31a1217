"""What the five workflows share: a model call as a named step, structured answers, grounding
in the caller's knowledge bases, and sub-steps run side by side.

Every model call goes through :meth:`RunContext.chat` (as the user, metered, recorded,
streamed) inside :meth:`RunContext.step`, so each step of a workflow is a ``step_started`` /
``step_finished`` pair in the stream and a recorded step of the run. A step's prompt keeps
the session: the system prompt (with the recalled memories), the earlier turns, then the
step's own instruction as the last user message.

Structured steps (a gate, a classifier, a plan, a verdict) ask for ``response_format``
``json_schema`` (grammar-constrained on the local model) and still read the answer
tolerantly: the first JSON object in the text, or None, which each workflow handles.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from typing import Any, TypeVar

from agentic_platform.agents.context import RunContext
from agentic_platform.agents.protocol import TEXT_INPUT, AgentKind

T = TypeVar("T")

SEARCH_TOOL = "search_knowledge_base"
GROUNDING_TOP_K = 4
"""Passages a grounded step is given."""
STRUCTURED_MAX_TOKENS = 256
"""Output cap of a structured step: a label, a verdict or a short plan."""


class Workflow:
    """What every built-in workflow declares alike; each sets ``name`` and ``description``."""

    name: str
    description: str
    kind: AgentKind = "workflow"
    tools: tuple[str, ...] = (SEARCH_TOOL,)
    input_schema: dict[str, Any] = TEXT_INPUT


def prompt_messages(ctx: RunContext, system: str, prompt: str) -> list[dict[str, Any]]:
    """The session (system prompt with memories, earlier turns) and ``prompt`` as the last
    user message."""
    return [*ctx.messages(system)[:-1], {"role": "user", "content": prompt}]


async def reply(ctx: RunContext, system: str, prompt: str, **request: Any) -> str:
    """One model call on ``prompt``; the answer's text."""
    completion = await ctx.chat(messages=prompt_messages(ctx, system, prompt), **request)
    return completion.choices[0].message.content or ""


async def ask(ctx: RunContext, step: str, system: str, prompt: str, **request: Any) -> str:
    """One model call as the step ``step``; the answer's text."""
    async with ctx.step(step):
        return await reply(ctx, system, prompt, **request)


async def ask_json(
    ctx: RunContext,
    step: str,
    system: str,
    prompt: str,
    schema: dict[str, Any],
    **request: Any,
) -> dict[str, Any] | None:
    """One structured model call as the step ``step``: the JSON object it answered, or None
    when there is none to read."""
    text = await ask(
        ctx,
        step,
        system,
        prompt,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": step.replace("-", "_"), "schema": schema},
        },
        max_tokens=STRUCTURED_MAX_TOKENS,
        **request,
    )
    return read_json_object(text)


def read_json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in ``text`` (the whole text, or one inside prose or a code
    fence); None when there is none."""
    decoder = json.JSONDecoder()
    for start, char in enumerate(text):
        if char != "{":
            continue
        try:
            found, _end = decoder.raw_decode(text, start)
        except ValueError:
            continue
        if isinstance(found, dict):
            return found
    return None


async def ground(ctx: RunContext, query: str) -> str:
    """Passages for ``query`` from the run's knowledge bases, as a block for a prompt ("" when
    the caller gave none). The search is the ``search_knowledge_base`` tool, so it runs as the
    user and is recorded as a tool call; a failed search is said in the block."""
    if not ctx.knowledge_bases or SEARCH_TOOL not in ctx.tools:
        return ""
    result = await ctx.call_tool(SEARCH_TOOL, {"query": query, "top_k": GROUNDING_TOP_K})
    found = read_json_object(result) or {}
    hits = found.get("results")
    if not isinstance(hits, list):
        reason = found.get("error", result)
        return f"The knowledge-base search failed ({reason}); say so if it matters."
    if not hits:
        return "The knowledge base has no passage about this; say so if it matters."
    passages = [_passage(number, hit) for number, hit in enumerate(hits, start=1)]
    return "Passages from the knowledge base (cite them by number):\n" + "\n".join(passages)


async def grounding_step(ctx: RunContext) -> str:
    """:func:`ground` for the message, as the step ``retrieve`` ("" and no step without
    knowledge bases)."""
    if not ctx.knowledge_bases:
        return ""
    async with ctx.step("retrieve"):
        return await ground(ctx, ctx.text)


def _passage(number: int, hit: dict[str, Any]) -> str:
    source = hit.get("title") or hit.get("document_id", "")
    return f"[{number}] ({source}) {hit.get('text', '')}"


def with_passages(prompt: str, passages: str) -> str:
    """``prompt`` with the grounding block before it, when there is one."""
    return f"{passages}\n\n{prompt}" if passages else prompt


async def side_by_side(*steps: Awaitable[T]) -> list[T]:
    """Run ``steps`` concurrently, results in the given order. The first failure cancels the
    others and is raised as itself (not as an exception group), so a gateway error keeps its
    status."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(_awaited(step)) for step in steps]
    except BaseExceptionGroup as failures:
        raise failures.exceptions[0] from None
    return [task.result() for task in tasks]


async def _awaited(step: Awaitable[T]) -> T:
    return await step
