"""How the workflows read their structured steps: tolerant JSON, plans, verdicts, votes."""

from __future__ import annotations

from agentic_platform.agents.workflows.evaluator_optimizer import (
    UNREADABLE_FEEDBACK,
    Verdict,
    read_verdict,
)
from agentic_platform.agents.workflows.orchestrator_workers import SubTask, read_plan
from agentic_platform.agents.workflows.parallelization import majority
from agentic_platform.agents.workflows.steps import read_json_object


def test_a_json_object_is_found_in_prose_or_a_code_fence_and_nothing_else_is_one() -> None:
    assert read_json_object('{"ok": true}') == {"ok": True}
    assert read_json_object('Sure!\n```json\n{"route": "math"}\n```') == {"route": "math"}
    assert read_json_object('a {broken then {"pass": false, "feedback": "x"} end') == {
        "pass": False,
        "feedback": "x",
    }
    assert read_json_object("[1, 2]") is None
    assert read_json_object("no json here") is None
    assert read_json_object('{"open": ') is None


def test_a_plan_is_cut_to_its_bound_and_an_unusable_one_is_the_whole_request() -> None:
    many = {"subtasks": [{"title": f"t{n}", "instruction": f"do {n}"} for n in range(6)]}
    assert [s.title for s in read_plan(many, "task", 4)] == ["t0", "t1", "t2", "t3"]
    whole = [SubTask("the whole request", "task")]
    assert read_plan(None, "task", 4) == whole
    assert read_plan({"subtasks": "do it all"}, "task", 4) == whole
    assert read_plan({"subtasks": [{"title": "empty"}, 3]}, "task", 4) == whole
    untitled = read_plan({"subtasks": [{"instruction": "count"}]}, "task", 4)
    assert untitled == [SubTask("count", "count")]


def test_an_unreadable_verdict_is_a_fail_that_says_so() -> None:
    assert read_verdict({"pass": True, "feedback": ""}) == Verdict(True, "")
    assert read_verdict({"pass": "yes"}) == Verdict(False, UNREADABLE_FEEDBACK)
    assert read_verdict(None) == Verdict(False, UNREADABLE_FEEDBACK)


def test_a_tie_goes_to_the_earliest_vote_and_case_and_full_stops_do_not_split_votes() -> None:
    assert majority(["Lyon", "Paris", "paris.", "LYON!"], 5) == "Lyon (2 of 5 votes)"
    assert majority(["Oslo", "Bergen"], 2) == "Oslo (1 of 2 votes)"
