"""``langgraph-chat``: a LangGraph chat graph (recall → model ⇄ tools → answer) on the
platform's gateways, with the conversation kept in the memory gateway across turns."""

from __future__ import annotations

from typing import Any

import pytest
from agents_harness import Platform, User
from local_platform import LOCAL_MODEL, local_platform

pytestmark = pytest.mark.asyncio(loop_scope="module")

AGENT = "langgraph-chat"


async def chat_rows(platform: Platform, user: User) -> list[dict[str, Any]]:
    """The usage ledger's chat rows charged to ``user`` (recall's embeddings left out)."""
    await platform.state.metering.ledger.flush()
    page = await platform.admin_call(
        "GET", "/admin/v1/usage/records", params={"principal_id": user.id}
    )
    return [row for row in page["records"] if row["endpoint"] == "chat"]


async def test_a_tool_call_then_an_answer_is_recorded_with_usage_and_cost(
    platform: Platform,
) -> None:
    alice = await platform.user("alice")
    with platform.agent_model(AGENT, "priced-calc-bot"):
        answer = await alice.ok(AGENT, message="6 * 7")
    assert answer["output"] == "The answer is 42."
    assert [(s["kind"], s["name"]) for s in answer["steps"]] == [
        ("model", "priced-calc-bot"),
        ("tool", "calculator"),
        ("model", "priced-calc-bot"),
    ]
    [call] = answer["tool_calls"]
    assert (call["name"], call["arguments"], call["result"]) == (
        "calculator",
        '{"expression": "6 * 7"}',
        "42",
    )
    usage = answer["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    expected = (usage["prompt_tokens"] * 1000 + usage["completion_tokens"] * 2000) / 1e6
    assert answer["cost_usd"] == pytest.approx(expected)
    record = (await alice.call("GET", f"/runs/{answer['run_id']}")).json()
    assert record["status"] == "succeeded" and record["agent"] == AGENT
    assert (record["model_calls"], record["tool_calls"]) == (2, 1)
    assert record["usage"] == usage


async def test_every_model_call_is_the_users_in_the_ledger(platform: Platform) -> None:
    carol = await platform.user("carol")
    with platform.agent_model(AGENT, "priced-calc-bot"):
        answer = await carol.ok(AGENT, message="2 + 3")
    rows = await chat_rows(platform, carol)
    assert [(row["model"], row["status"]) for row in rows] == [("priced-calc-bot", 200)] * 2
    assert all(row["principal_id"] == carol.id for row in rows)
    assert all(row["acting_via"] == platform.state.platform_service_id for row in rows)
    assert sum(row["input_tokens"] for row in rows) == answer["usage"]["prompt_tokens"]
    assert sum(row["cost_usd"] for row in rows) == pytest.approx(answer["cost_usd"])


async def test_a_streamed_run_sends_tool_events_then_text(platform: Platform) -> None:
    alice = await platform.user("alice")
    events = await alice.stream(AGENT, message="3 * 4")
    kinds = [event["type"] for event in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    assert kinds.index("tool_call_started") < kinds.index("tool_call_finished")
    assert kinds.index("tool_call_finished") < kinds.index("text_delta")
    deltas = [event["text"] for event in events if event["type"] == "text_delta"]
    assert len(deltas) > 1
    assert "".join(deltas) == events[-1]["output"] == "The answer is 12."


async def test_turn_two_knows_what_was_said_in_turn_one(platform: Platform) -> None:
    alice = await platform.user("alice")
    with platform.agent_model(AGENT, "history-bot"):
        first = await alice.ok(AGENT, message="my name is Alice")
        session = first["session_id"]
        second = await alice.ok(AGENT, message="what is my name?", session_id=session)
        other = await alice.ok(AGENT, message="what is my name?")
    assert first["output"].startswith("earlier=0;")
    assert second["output"].startswith("earlier=1; history=my name is Alice;")
    assert other["output"].startswith("earlier=0;") and other["session_id"] != session
    async with alice.client() as http:
        page = (await http.get(f"/memory/v1/sessions/{session}/messages")).json()
    assert [(turn["role"], turn["content"]) for turn in page["data"]] == [
        ("user", "my name is Alice"),
        ("assistant", first["output"]),
        ("user", "what is my name?"),
        ("assistant", second["output"]),
    ]


async def test_the_step_limit_stops_a_looping_model(platform: Platform) -> None:
    alice = await platform.user("alice")
    with platform.agent_model(AGENT, "loop-bot"):
        response = await alice.invoke(AGENT, message="loop")
        events = await alice.stream(AGENT, message="loop")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "step_limit_reached"
    assert error["message"] == (
        "The agent made 10 model calls without finishing (agents.max_steps is 10)."
    )
    runs = (await alice.call("GET", "/runs", params={"status": "failed"})).json()["data"]
    assert [(run["model_calls"], run["tool_calls"]) for run in runs] == [(10, 10)] * 2
    assert events[-1]["type"] == "error" and events[-1]["code"] == "step_limit_reached"


async def test_a_gateway_error_keeps_its_status(platform: Platform) -> None:
    alice = await platform.user("alice")
    with platform.agent_model(AGENT, "broken-bot"):
        response = await alice.invoke(AGENT, message="hello")
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_unavailable"


async def test_a_run_may_use_exactly_max_steps_model_calls(platform: Platform) -> None:
    alice = await platform.user("alice")
    settings = platform.state.settings.agents
    settings.max_steps = 2
    try:
        answer = await alice.ok(AGENT, message="5 * 5")
        with platform.agent_model(AGENT, "loop-bot"):
            refused = await alice.invoke(AGENT, message="loop")
    finally:
        settings.max_steps = 10
    assert answer["output"] == "The answer is 25." and len(answer["steps"]) == 3
    assert refused.status_code == 422
    assert "made 2 model calls" in refused.json()["error"]["message"]


@pytest.mark.local_model
async def test_a_run_on_the_packaged_local_model(
    tmp_path_factory: pytest.TempPathFactory, admin_key: str
) -> None:
    async with local_platform(tmp_path_factory.mktemp("local"), admin_key) as local:
        frank = await local.user("frank")
        events = await frank.stream(AGENT, message="Say hello.")
        done = events[-1]
        assert done["type"] == "run_finished", done
        record = (await frank.call("GET", f"/runs/{done['run_id']}")).json()
        rows = await chat_rows(local, frank)
    assert record["status"] == "succeeded" and record["model"] == LOCAL_MODEL
    model_steps = [step for step in record["steps"] if step["kind"] == "model"]
    assert model_steps and all(0 < s["usage"]["completion_tokens"] <= 8 for s in model_steps)
    assert [row["model"] for row in rows] == [LOCAL_MODEL] * len(model_steps)
    assert sum(row["output_tokens"] for row in rows) == done["usage"]["completion_tokens"]
