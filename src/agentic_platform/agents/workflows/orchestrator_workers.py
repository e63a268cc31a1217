"""``orchestrator-workers``: a planner splits the task, workers run the parts side by side, a
synthesizer combines them.

The planner answers ``{"subtasks": [{"title": str, "instruction": str}, ...]}``. At most
``max_subtasks`` are run (the rest are dropped); a plan that cannot be read, or has no usable
sub-task, falls back to one sub-task: the whole request. With knowledge bases, each worker
searches them for its own sub-task.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agentic_platform.agents.context import RunContext
from agentic_platform.agents.workflows.steps import (
    Workflow,
    ask,
    ask_json,
    ground,
    reply,
    side_by_side,
    with_passages,
)

SYSTEM_PROMPT = "You are a helpful assistant. Answer briefly and plainly."
PLANNER_PROMPT = "You plan work. Split a task into a few independent parts. Reply with JSON only."
MAX_SUBTASKS = 4


@dataclass(frozen=True)
class SubTask:
    title: str
    instruction: str


def plan_schema(max_subtasks: int) -> dict[str, Any]:
    subtask = {
        "type": "object",
        "properties": {"title": {"type": "string"}, "instruction": {"type": "string"}},
        "required": ["title", "instruction"],
    }
    return {
        "type": "object",
        "properties": {
            "subtasks": {
                "type": "array",
                "items": subtask,
                "minItems": 1,
                "maxItems": max_subtasks,
            }
        },
        "required": ["subtasks"],
    }


def read_plan(plan: dict[str, Any] | None, request: str, max_subtasks: int) -> list[SubTask]:
    """The plan's usable sub-tasks (at most ``max_subtasks``), or the whole request as one."""
    listed = (plan or {}).get("subtasks")
    subtasks: list[SubTask] = []
    for item in listed if isinstance(listed, list) else []:
        if not isinstance(item, dict):
            continue
        instruction = str(item.get("instruction") or "").strip()
        if instruction:
            title = str(item.get("title") or "").strip() or instruction[:60]
            subtasks.append(SubTask(title, instruction))
    return subtasks[:max_subtasks] or [SubTask("the whole request", request)]


class OrchestratorWorkers(Workflow):
    name = "orchestrator-workers"
    description = (
        "A planner splits the task into a few sub-tasks, workers run them concurrently, and a "
        "synthesizer combines their results."
    )
    max_subtasks = MAX_SUBTASKS

    async def run(self, ctx: RunContext) -> str:
        plan = await ask_json(
            ctx,
            "plan",
            PLANNER_PROMPT,
            f"Task:\n{ctx.text}\n\nSplit it into 1 to {self.max_subtasks} independent "
            'sub-tasks. Reply as JSON: {"subtasks": [{"title": "...", "instruction": "..."}]}.',
            plan_schema(self.max_subtasks),
        )
        subtasks = read_plan(plan, ctx.text, self.max_subtasks)
        results = await side_by_side(
            *(_work(ctx, number, subtask) for number, subtask in enumerate(subtasks, start=1))
        )
        findings = "\n\n".join(
            f"{subtask.title}:\n{result}" for subtask, result in zip(subtasks, results, strict=True)
        )
        return await ask(
            ctx,
            "synthesize",
            SYSTEM_PROMPT,
            f"Task:\n{ctx.text}\n\nResults of its parts:\n\n{findings}\n\n"
            "Combine them into one answer to the task.",
        )


async def _work(ctx: RunContext, number: int, subtask: SubTask) -> str:
    async with ctx.step(f"worker-{number}"):
        passages = await ground(ctx, subtask.instruction)
        prompt = f"Overall task:\n{ctx.text}\n\nYour part ({subtask.title}):\n{subtask.instruction}"
        return await reply(ctx, SYSTEM_PROMPT, with_passages(prompt, passages))
