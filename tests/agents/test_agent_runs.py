"""Run records: every run that starts is recorded with how it ended, its steps, usage and
cost; a user reads their own, an admin everyone's."""

from __future__ import annotations

import pytest
from agents_harness import Platform

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_a_succeeded_run_is_recorded_with_its_steps(platform: Platform) -> None:
    alice = await platform.user("alice")
    answer = await alice.ok(message="2 * 21", metadata={"ticket": "T-1"})
    record = (await alice.call("GET", f"/runs/{answer['run_id']}")).json()
    assert record["status"] == "succeeded" and record["error"] is None
    assert record["agent"] == "diy-agent" and record["user_id"] == alice.id
    assert record["session_id"] == answer["session_id"]
    assert record["acting_via"] is None
    assert record["model"] == "calc-bot"
    assert record["usage"] == answer["usage"]
    assert record["cost_usd"] == answer["cost_usd"]
    assert (record["model_calls"], record["tool_calls"]) == (2, 1)
    assert record["metadata"] == {"ticket": "T-1"}
    assert record["finished_at"] >= record["started_at"]
    assert record["duration_ms"] > 0
    assert [(s["index"], s["kind"], s["name"]) for s in record["steps"]] == [
        (0, "model", "calc-bot"),
        (1, "tool", "calculator"),
        (2, "model", "calc-bot"),
    ]
    tool = record["steps"][1]["detail"]
    assert tool["arguments"] == '{"expression": "2 * 21"}'
    assert tool["result"] == "42" and tool["is_error"] is False
    assert record["steps"][0]["usage"] == answer["steps"][0]["usage"]


async def test_a_failed_run_is_recorded_with_why(platform: Platform) -> None:
    alice = await platform.user("alice")
    with platform.agent_model("diy-agent", "loop-bot"):
        response = await alice.invoke(message="loop")
    assert response.status_code == 422
    [run] = (await alice.call("GET", "/runs", params={"status": "failed"})).json()["data"]
    assert run["error_code"] == "step_limit_reached"
    assert "agents.max_steps is 10" in run["error"]
    assert (run["model_calls"], run["tool_calls"]) == (10, 10)


async def test_a_run_past_its_timeout_fails_as_run_timeout(platform: Platform) -> None:
    alice = await platform.user("alice")
    settings = platform.state.settings.agents
    settings.run_timeout_seconds = 0.5
    try:
        with platform.agent_model("diy-agent", "slow-bot"):
            response = await alice.invoke(message="slowly")
    finally:
        settings.run_timeout_seconds = 300
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "run_timeout"
    [run] = (await alice.call("GET", "/runs")).json()["data"]
    assert run["status"] == "failed" and run["error_code"] == "run_timeout"
    [step] = (await alice.call("GET", f"/runs/{run['id']}")).json()["steps"]
    assert step["kind"] == "model" and step["error"] == "cancelled"


async def test_a_refused_invocation_is_not_a_run(platform: Platform) -> None:
    alice = await platform.user("alice")
    assert (await alice.invoke(message="1", session_id="nope")).status_code == 404
    assert (await alice.invoke(message="")).status_code == 400
    assert (await alice.call("GET", "/runs")).json() == {"data": [], "has_more": False}


async def test_listing_filters_and_pages(platform: Platform) -> None:
    alice = await platform.user("alice")
    first = await alice.ok(message="1 + 1")
    second = await alice.ok(message="2 + 2", session_id=first["session_id"])
    other = await alice.ok(message="3 + 3")
    listed = (await alice.call("GET", "/runs")).json()["data"]
    assert [run["id"] for run in listed] == [other["run_id"], second["run_id"], first["run_id"]]
    session = await alice.call("GET", "/runs", params={"session_id": first["session_id"]})
    assert [run["id"] for run in session.json()["data"]] == [second["run_id"], first["run_id"]]
    page = (await alice.call("GET", "/runs", params={"limit": 2})).json()
    assert len(page["data"]) == 2 and page["has_more"] is True
    rest = (await alice.call("GET", "/runs", params={"limit": 2, "offset": 2})).json()
    assert [run["id"] for run in rest["data"]] == [first["run_id"]] and not rest["has_more"]
    assert (await alice.call("GET", "/runs", params={"agent": "other"})).json()["data"] == []
    bad = await alice.call("GET", "/runs", params={"status": "exploded"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "status"


async def test_a_user_sees_only_their_runs_and_an_admin_sees_all(platform: Platform) -> None:
    alice, bob = await platform.user("alice"), await platform.user("bob")
    run = (await alice.ok(message="5 * 5"))["run_id"]
    assert (await bob.call("GET", "/runs")).json()["data"] == []
    hidden = await bob.call("GET", f"/runs/{run}")
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "run_not_found"
    assert hidden.json()["error"]["message"] == f"No run '{run}'."
    refused = await bob.call("GET", "/runs", params={"user_id": alice.id})
    assert refused.status_code == 403
    admin = await platform.admin()
    assert (await admin.call("GET", f"/runs/{run}")).json()["user_id"] == alice.id
    mine = (await admin.call("GET", "/runs", params={"user_id": alice.id})).json()["data"]
    assert [r["id"] for r in mine] == [run]
