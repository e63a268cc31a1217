"""``evaluator-optimizer``: generate, evaluate, improve from the feedback, at most
``max_rounds`` rounds; an unreadable verdict is a fail that says so."""

from __future__ import annotations

import pytest
from agents_harness import Platform
from workflows_harness import assert_well_ordered, knowledge_base, step_names

from agentic_platform.agents.workflows.evaluator_optimizer import MAX_ROUNDS, UNREADABLE_FEEDBACK

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_a_first_answer_that_passes_ends_the_run(platform: Platform) -> None:
    alice = await platform.user("alice")
    answer = await alice.ok("evaluator-optimizer", message="PASS_AT:1 name a prime")
    assert step_names(answer) == ["generate", "evaluate-1"]
    assert answer["output"] == "v1"


async def test_the_answer_is_improved_from_the_feedback_until_it_passes(
    platform: Platform,
) -> None:
    alice = await platform.user("alice")
    answer = await alice.ok("evaluator-optimizer", message="PASS_AT:2 name a prime")
    assert step_names(answer) == ["generate", "evaluate-1", "improve-2", "evaluate-2"]
    assert answer["output"] == "v2 after: v1 is not good enough"


async def test_the_rounds_stop_at_the_bound_with_the_latest_answer(platform: Platform) -> None:
    alice = await platform.user("alice")
    events = await alice.stream("evaluator-optimizer", message="NEVER satisfied")
    assert_well_ordered(events)
    names = [e["name"] for e in events if e["type"] == "step_started"]
    assert MAX_ROUNDS == 3
    assert names == [
        "generate",
        "evaluate-1",
        "improve-2",
        "evaluate-2",
        "improve-3",
        "evaluate-3",
    ]
    assert events[-1]["output"] == "v3 after: v2 is not good enough"


async def test_an_unreadable_verdict_fails_the_round_with_feedback_saying_so(
    platform: Platform,
) -> None:
    alice = await platform.user("alice")
    answer = await alice.ok("evaluator-optimizer", message="GARBLE PASS_AT:1")
    assert len(step_names(answer)) == 2 * MAX_ROUNDS
    assert answer["output"] == f"v3 after: {UNREADABLE_FEEDBACK}"


async def test_the_answer_is_written_from_the_passages(platform: Platform) -> None:
    alice = await platform.user("alice")
    kb = await knowledge_base(alice, "primes", {"id": "p", "text": "Seven is a prime number."})
    answer = await alice.ok("evaluator-optimizer", message="PASS_AT:1 a prime?", knowledge_base=kb)
    assert step_names(answer) == ["retrieve", "generate", "evaluate-1"]
    assert step_names(answer, "tool") == ["search_knowledge_base"]
    assert answer["output"] == "v1 [from: [1] (p) Seven is a prime number.]"
