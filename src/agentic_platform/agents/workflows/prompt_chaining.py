"""``prompt-chaining``: outline → gate → draft → polish, each step consuming the last.

The gate is a structured check of the outline (``{"ok": bool, "reason": str}``). When it
fails, or its answer cannot be read, the run stops there and answers why, without spending
the draft and polish calls.
"""

from __future__ import annotations

from typing import Any

from agentic_platform.agents.context import RunContext
from agentic_platform.agents.workflows.steps import (
    Workflow,
    ask,
    ask_json,
    grounding_step,
    with_passages,
)

SYSTEM_PROMPT = "You are a careful writer. Follow the instruction exactly and answer briefly."

GATE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}, "reason": {"type": "string"}},
    "required": ["ok", "reason"],
}


class PromptChaining(Workflow):
    name = "prompt-chaining"
    description = (
        "A fixed chain: outline the answer, check the outline (a gate that can stop the run), "
        "draft from it, then polish the draft."
    )

    async def run(self, ctx: RunContext) -> str:
        passages = await grounding_step(ctx)
        request = f"The user's request:\n{ctx.text}"
        outline = await ask(
            ctx,
            "outline",
            SYSTEM_PROMPT,
            with_passages(
                f"{request}\n\nWrite a short outline (3 to 5 points) of the answer.", passages
            ),
        )
        verdict = await ask_json(
            ctx,
            "gate",
            SYSTEM_PROMPT,
            f"{request}\n\nOutline:\n{outline}\n\nDoes this outline answer the request, and is "
            'it something you can answer? Reply as JSON: {"ok": true or false, "reason": '
            '"why"}.',
            GATE_SCHEMA,
        )
        stopped = _stop_reason(verdict)
        if stopped is not None:
            return f"Stopped after the outline: {stopped}"
        draft = await ask(
            ctx,
            "draft",
            SYSTEM_PROMPT,
            with_passages(
                f"{request}\n\nOutline:\n{outline}\n\nWrite the answer following the outline.",
                passages,
            ),
        )
        return await ask(
            ctx,
            "polish",
            SYSTEM_PROMPT,
            f"{request}\n\nDraft:\n{draft}\n\nPolish the draft: fix errors, keep it short, "
            "keep every fact. Reply with the polished answer only.",
        )


def _stop_reason(verdict: dict[str, Any] | None) -> str | None:
    """Why the gate stops the chain, or None when it lets the outline through."""
    if verdict is None or not isinstance(verdict.get("ok"), bool):
        return "the outline check gave no readable verdict."
    if verdict["ok"]:
        return None
    reason = str(verdict.get("reason") or "").strip()
    return f"the outline check failed ({reason})." if reason else "the outline check failed."
