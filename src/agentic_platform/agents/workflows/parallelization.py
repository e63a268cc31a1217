"""``parallelization`` and ``parallelization-voting``: independent calls run side by side.

* ``parallelization`` (sectioning): three independent sub-tasks on the same request (the
  answer, its caveats, an example) run concurrently, then an aggregator combines them.
* ``parallelization-voting``: the same question is asked ``votes`` times concurrently, each
  vote a short structured answer (``{"answer": str}``); the answer most votes agree on (case
  and trailing punctuation aside) wins, ties going to the earliest vote. Unreadable votes do
  not count.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from agentic_platform.agents.context import RunContext
from agentic_platform.agents.workflows.steps import (
    Workflow,
    ask,
    ask_json,
    grounding_step,
    side_by_side,
    with_passages,
)

SYSTEM_PROMPT = "You are a helpful assistant. Answer briefly and plainly."
SUB_TASKS: dict[str, str] = {
    "answer": "Answer the request directly, in a few sentences.",
    "caveats": "List the main caveats, exceptions or risks to know about (at most three).",
    "example": "Give one short, concrete example that illustrates the answer.",
}
VOTE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
}
VOTE_TEMPERATURE = 0.8
"""Some variety between votes, or they would all be the same sample."""


class Parallelization(Workflow):
    name = "parallelization"
    description = (
        "Sectioning: the answer, its caveats and an example are written concurrently, then "
        "combined into one answer."
    )

    async def run(self, ctx: RunContext) -> str:
        passages = await grounding_step(ctx)
        request = f"The user's request:\n{ctx.text}"
        parts = await side_by_side(
            *(
                ask(ctx, step, SYSTEM_PROMPT, with_passages(f"{request}\n\n{task}", passages))
                for step, task in SUB_TASKS.items()
            )
        )
        sections = "\n\n".join(
            f"{step.capitalize()}:\n{part}" for step, part in zip(SUB_TASKS, parts, strict=True)
        )
        return await ask(
            ctx,
            "aggregate",
            SYSTEM_PROMPT,
            f"{request}\n\n{sections}\n\nCombine these into one clear answer to the request.",
        )


class ParallelizationVoting(Workflow):
    name = "parallelization-voting"
    description = (
        "Voting: the question is answered several times concurrently and the answer most "
        "votes agree on wins."
    )
    votes = 3

    async def run(self, ctx: RunContext) -> str:
        passages = await grounding_step(ctx)
        prompt = with_passages(
            f"Question:\n{ctx.text}\n\nAnswer in a few words. Reply as JSON: "
            '{"answer": "<your answer>"}.',
            passages,
        )
        ballots = await side_by_side(
            *(
                ask_json(
                    ctx,
                    f"vote-{number}",
                    SYSTEM_PROMPT,
                    prompt,
                    VOTE_SCHEMA,
                    temperature=VOTE_TEMPERATURE,
                )
                for number in range(1, self.votes + 1)
            )
        )
        answers = [
            str(b["answer"]).strip() for b in ballots if b and str(b.get("answer", "")).strip()
        ]
        return majority(answers, self.votes)


def majority(answers: list[str], votes: int) -> str:
    """The answer most of ``answers`` agree on, with its count of the ``votes`` cast."""
    if not answers:
        return f"None of the {votes} votes could be read, so there is no answer."
    counts = Counter(_normalized(answer) for answer in answers)
    winner, count = counts.most_common(1)[0]
    first = next(answer for answer in answers if _normalized(answer) == winner)
    return f"{first} ({count} of {votes} votes)"


def _normalized(answer: str) -> str:
    return answer.strip().rstrip(".!").strip().casefold()
