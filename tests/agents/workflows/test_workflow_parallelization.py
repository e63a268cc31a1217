"""``parallelization`` (sub-tasks side by side, then an aggregator) and
``parallelization-voting`` (votes side by side, the majority wins)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from agents_harness import Platform
from workflows_harness import assert_well_ordered, knowledge_base, step_names, workflow_on

pytestmark = pytest.mark.asyncio(loop_scope="module")

SECTIONS = ["answer", "caveats", "example"]


async def test_every_sub_task_runs_and_the_aggregator_combines_them(platform: Platform) -> None:
    alice = await platform.user("alice")
    answer = await alice.ok("parallelization", message="Should we cache the catalog?")
    assert step_names(answer) == [*SECTIONS, "aggregate"]
    assert answer["output"] == (
        "combined: Answer: the answer | Caveats: the caveats | Example: an example"
    )


def _window(step: dict[str, object]) -> tuple[datetime, datetime]:
    start = datetime.fromisoformat(str(step["started_at"]))
    return start, start + timedelta(milliseconds=float(str(step["duration_ms"])))


async def test_the_sub_tasks_overlap_and_each_step_counts_only_its_own_call(
    platform: Platform,
) -> None:
    alice = await platform.user("alice")
    with workflow_on(platform, "parallelization", "slow-flow-bot"):
        answer = await alice.ok("parallelization", message="Should we cache the catalog?")
    steps = answer["steps"]
    sections = [s for s in steps if s["kind"] == "step" and s["name"] in SECTIONS]
    latest_start = max(_window(s)[0] for s in sections)
    assert all(_window(s)[1] > latest_start for s in sections), "the sub-tasks ran one by one"
    for position, step in enumerate(steps):
        if step["kind"] == "step":
            own_call = steps[position + 1]
            assert own_call["kind"] == "model" and own_call["usage"] == step["usage"]
    total = sum(s["usage"]["total_tokens"] for s in steps if s["kind"] == "step")
    assert total == answer["usage"]["total_tokens"]


async def test_the_streamed_sub_tasks_all_start_before_any_finishes(platform: Platform) -> None:
    alice = await platform.user("alice")
    with workflow_on(platform, "parallelization", "slow-flow-bot"):
        events = await alice.stream("parallelization", message="Should we cache the catalog?")
    assert_well_ordered(events)
    steps = [(e["type"], e["name"]) for e in events if e["type"].startswith("step_")]
    assert steps[:3] == [("step_started", name) for name in SECTIONS]
    assert {name for kind, name in steps[3:6]} == set(SECTIONS)
    assert steps[6:] == [("step_started", "aggregate"), ("step_finished", "aggregate")]
    deltas = {e["step"] for e in events if e["type"] == "text_delta"}
    assert deltas == {*SECTIONS, "aggregate"}


async def test_the_votes_run_side_by_side_and_the_majority_wins(platform: Platform) -> None:
    alice = await platform.user("alice")
    answer = await alice.ok("parallelization-voting", message="What is the capital of France?")
    assert sorted(step_names(answer)) == ["vote-1", "vote-2", "vote-3"]
    assert answer["output"].casefold().startswith("paris")
    assert answer["output"].endswith(" (2 of 3 votes)")


async def test_unreadable_votes_do_not_count(platform: Platform) -> None:
    alice = await platform.user("alice")
    answer = await alice.ok("parallelization-voting", message="GARBLE: who wins?")
    assert answer["output"] == "None of the 3 votes could be read, so there is no answer."


async def test_the_sub_tasks_and_the_votes_are_given_the_passages(platform: Platform) -> None:
    alice = await platform.user("alice")
    kb = await knowledge_base(alice, "geo", {"id": "fr", "text": "Paris is the capital of France."})
    passage = "[from: [1] (fr) Paris is the capital of France.]"
    sections = await alice.ok("parallelization", message="France?", knowledge_base=kb)
    assert step_names(sections)[0] == "retrieve"
    assert f"Answer: the answer {passage} |" in sections["output"]
    voted = await alice.ok("parallelization-voting", message="Capital?", knowledge_base=kb)
    assert step_names(voted)[0] == "retrieve"
    assert voted["output"].startswith(passage)
    assert voted["output"].endswith(" (2 of 3 votes)")


async def test_a_failing_sub_task_fails_the_run_with_the_gateway_s_error(
    platform: Platform,
) -> None:
    alice = await platform.user("alice")
    response = await alice.invoke("parallelization", message="BREAK the caveats")
    assert response.status_code == 502, response.text
    assert response.json()["error"]["code"] == "upstream_unavailable"
    runs = await alice.call("GET", "/runs", params={"agent": "parallelization"})
    run = (await alice.call("GET", f"/runs/{runs.json()['data'][0]['id']}")).json()
    assert run["status"] == "failed" and run["error_code"] == "upstream_unavailable"
    failed = [s for s in run["steps"] if s["kind"] == "step" and s["error"]]
    assert [s["name"] for s in failed if s["name"] == "caveats"] == ["caveats"]
    assert "aggregate" not in [s["name"] for s in run["steps"]]
