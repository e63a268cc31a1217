"""``orchestrator-workers``: the plan, its bound and its fallback, workers side by side, each
grounded in the knowledge base for its own sub-task."""

from __future__ import annotations

import pytest
from agents_harness import Platform
from workflows_harness import assert_well_ordered, knowledge_base, step_names

from agentic_platform.agents.workflows.orchestrator_workers import MAX_SUBTASKS

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_the_planned_sub_tasks_are_worked_and_synthesized(platform: Platform) -> None:
    alice = await platform.user("alice")
    answer = await alice.ok("orchestrator-workers", message="PLAN:3 review the release")
    assert step_names(answer) == ["plan", "worker-1", "worker-2", "worker-3", "synthesize"]
    assert answer["output"] == (
        "synthesis of part 1:\ndone: do part 1 | part 2:\ndone: do part 2 "
        "| part 3:\ndone: do part 3"
    )


async def test_a_plan_longer_than_the_bound_is_cut_to_it(platform: Platform) -> None:
    alice = await platform.user("alice")
    answer = await alice.ok("orchestrator-workers", message="PLAN:9 review everything")
    workers = [name for name in step_names(answer) if name.startswith("worker-")]
    assert len(workers) == MAX_SUBTASKS == 4
    assert len(step_names(answer, "model")) == 1 + MAX_SUBTASKS + 1


async def test_an_unreadable_plan_falls_back_to_one_sub_task(platform: Platform) -> None:
    alice = await platform.user("alice")
    answer = await alice.ok("orchestrator-workers", message="GARBLE the plan")
    assert step_names(answer) == ["plan", "worker-1", "synthesize"]
    assert answer["output"] == "synthesis of the whole request:\ndone: GARBLE the plan"


async def test_each_worker_searches_the_knowledge_base_for_its_part(platform: Platform) -> None:
    alice = await platform.user("alice")
    kb = await knowledge_base(
        alice, "release", {"id": "notes", "text": "Version 2 drops the legacy importer."}
    )
    events = await alice.stream(
        "orchestrator-workers", message="PLAN:2 review the release", knowledge_base=kb
    )
    assert_well_ordered(events)
    searches = [e for e in events if e["type"] == "tool_call_started"]
    assert sorted(e["arguments"] for e in searches) == [
        '{"query":"do part 1","top_k":4}',
        '{"query":"do part 2","top_k":4}',
    ]
    assert len({e["call_id"] for e in searches}) == 2, "concurrent tool calls got one id"
    passage = "[from: [1] (notes) Version 2 drops the legacy importer.]"
    assert events[-1]["output"].count(passage) == 2
