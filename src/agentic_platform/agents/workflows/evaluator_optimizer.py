"""``evaluator-optimizer``: generate, evaluate, improve, for at most ``max_rounds`` rounds.

Each round ends with an evaluation answering ``{"pass": bool, "feedback": str}``. A pass ends
the run with that answer; a fail sends the feedback to the next round's improvement. A verdict
that cannot be read counts as a fail with feedback saying so. After the last round the latest
answer is given, passed or not (the steps show how each round was judged).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agentic_platform.agents.context import RunContext
from agentic_platform.agents.workflows.steps import (
    Workflow,
    ask,
    ask_json,
    grounding_step,
    with_passages,
)

WRITER_PROMPT = "You are a careful writer. Answer the request accurately and briefly."
EVALUATOR_PROMPT = "You review answers strictly. Reply with JSON only."
MAX_ROUNDS = 3
VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"pass": {"type": "boolean"}, "feedback": {"type": "string"}},
    "required": ["pass", "feedback"],
}
UNREADABLE_FEEDBACK = (
    "The evaluation could not be read; make the answer clearer, complete and correct."
)


@dataclass(frozen=True)
class Verdict:
    passed: bool
    feedback: str


def read_verdict(answer: dict[str, Any] | None) -> Verdict:
    """The evaluator's verdict; an unreadable one is a fail saying so."""
    if answer is None or not isinstance(answer.get("pass"), bool):
        return Verdict(False, UNREADABLE_FEEDBACK)
    return Verdict(answer["pass"], str(answer.get("feedback") or "").strip())


class EvaluatorOptimizer(Workflow):
    name = "evaluator-optimizer"
    description = (
        "Writes an answer, has it evaluated (pass or fail with feedback) and improves it from "
        "the feedback, for a bounded number of rounds."
    )
    max_rounds = MAX_ROUNDS

    async def run(self, ctx: RunContext) -> str:
        passages = await grounding_step(ctx)
        request = f"The user's request:\n{ctx.text}"
        answer = await ask(ctx, "generate", WRITER_PROMPT, with_passages(request, passages))
        for round_number in range(1, self.max_rounds + 1):
            verdict = await _evaluate(ctx, round_number, request, answer, passages)
            if verdict.passed or round_number == self.max_rounds:
                return answer
            answer = await ask(
                ctx,
                f"improve-{round_number + 1}",
                WRITER_PROMPT,
                with_passages(
                    f"{request}\n\nYour answer:\n{answer}\n\nA reviewer's feedback:\n"
                    f"{verdict.feedback}\n\nWrite the improved answer only.",
                    passages,
                ),
            )
        return answer


async def _evaluate(
    ctx: RunContext, round_number: int, request: str, answer: str, passages: str
) -> Verdict:
    found = await ask_json(
        ctx,
        f"evaluate-{round_number}",
        EVALUATOR_PROMPT,
        with_passages(
            f"{request}\n\nAnswer to review:\n{answer}\n\nIs the answer correct, complete and "
            'clear? Reply as JSON: {"pass": true or false, "feedback": "what to improve"}.',
            passages,
        ),
        VERDICT_SCHEMA,
    )
    return read_verdict(found)
