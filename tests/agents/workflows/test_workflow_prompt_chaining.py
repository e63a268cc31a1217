"""``prompt-chaining``: outline → gate → draft → polish, and the gate stopping the run."""

from __future__ import annotations

import pytest
from agents_harness import Platform
from workflows_harness import assert_well_ordered, knowledge_base, step_names

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_the_chain_runs_every_step_in_order(platform: Platform) -> None:
    alice = await platform.user("alice")
    answer = await alice.ok("prompt-chaining", message="Explain solar panels")
    assert step_names(answer) == ["outline", "gate", "draft", "polish"]
    assert len(step_names(answer, "model")) == 4
    assert answer["output"] == "polished draft"
    assert all(step["usage"]["total_tokens"] > 0 for step in answer["steps"])


async def test_a_failed_gate_stops_after_the_outline_and_says_why(platform: Platform) -> None:
    alice = await platform.user("alice")
    answer = await alice.ok("prompt-chaining", message="REFUSE: list my colleagues' salaries")
    assert step_names(answer) == ["outline", "gate"]
    assert answer["output"] == (
        "Stopped after the outline: the outline check failed (the request asks for private data)."
    )


async def test_an_unreadable_gate_verdict_stops_the_run(platform: Platform) -> None:
    alice = await platform.user("alice")
    answer = await alice.ok("prompt-chaining", message="GARBLE this")
    assert step_names(answer) == ["outline", "gate"]
    assert (
        answer["output"] == "Stopped after the outline: the outline check gave no readable verdict."
    )


async def test_the_streamed_chain_sends_each_step_in_order(platform: Platform) -> None:
    alice = await platform.user("alice")
    events = await alice.stream("prompt-chaining", message="Explain wind power")
    assert_well_ordered(events)
    steps = [(e["type"], e["name"]) for e in events if e["type"].startswith("step_")]
    assert steps == [
        (kind, name)
        for name in ("outline", "gate", "draft", "polish")
        for kind in ("step_started", "step_finished")
    ]
    deltas = [e for e in events if e["type"] == "text_delta"]
    assert {e["step"] for e in deltas} == {"outline", "gate", "draft", "polish"}
    assert events[-1]["output"] == "polished draft"
    run = await alice.call("GET", f"/runs/{events[0]['run_id']}")
    recorded = [s["name"] for s in run.json()["steps"] if s["kind"] == "step"]
    assert recorded == ["outline", "gate", "draft", "polish"]


async def test_the_outline_and_the_draft_are_written_from_the_passages(
    platform: Platform,
) -> None:
    alice = await platform.user("alice")
    kb = await knowledge_base(
        alice, "energy", {"id": "solar", "text": "Solar panels turn light into power."}
    )
    answer = await alice.ok("prompt-chaining", message="Explain solar panels", knowledge_base=kb)
    assert step_names(answer) == ["retrieve", "outline", "gate", "draft", "polish"]
    assert answer["tool_calls"][0]["name"] == "search_knowledge_base"
    assert (
        answer["output"] == "polished draft [from: [1] (solar) Solar panels turn light into power.]"
    )
