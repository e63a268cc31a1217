"""What every agent of the platform must do, as checks a test module runs for its agent:
a scripted tool call through to the answer (steps, tool calls, usage, cost, the run record),
the gateway's ledger charging the user, the stream's event order, the session across turns,
the step limit, a gateway error, and one short run on the packaged local model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from agents_harness import Platform, User, agent_settings, running
from local_platform import LOCAL_MODEL, local_platform

from agentic_platform.llm_gateway.catalog import Deployment, ModelEntry
from agentic_platform.llm_gateway.schemas import ChatCompletionRequest, ToolMessage, message_text


async def chat_rows(platform: Platform, user: User) -> list[dict[str, Any]]:
    """The usage ledger's chat rows charged to ``user`` (recall's embeddings left out)."""
    await platform.state.metering.ledger.flush()
    page = await platform.admin_call(
        "GET", "/admin/v1/usage/records", params={"principal_id": user.id}
    )
    return [row for row in page["records"] if row["endpoint"] == "chat"]


async def a_tool_run_is_recorded_with_usage_and_cost(platform: Platform, agent: str) -> None:
    alice = await platform.user("alice")
    with platform.agent_model(agent, "priced-calc-bot"):
        answer = await alice.ok(agent, message="6 * 7")
    assert answer["output"] == "The answer is 42."
    assert [(s["kind"], s["name"]) for s in answer["steps"]] == [
        ("model", "priced-calc-bot"),
        ("tool", "calculator"),
        ("model", "priced-calc-bot"),
    ]
    [call] = answer["tool_calls"]
    assert call["name"] == "calculator" and call["result"] == "42"
    assert call["arguments"] == '{"expression": "6 * 7"}' and call["is_error"] is False
    first, _, second = answer["steps"]
    usage = answer["usage"]
    assert usage["prompt_tokens"] == (
        first["usage"]["prompt_tokens"] + second["usage"]["prompt_tokens"]
    )
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    expected = (usage["prompt_tokens"] * 1000 + usage["completion_tokens"] * 2000) / 1e6
    assert answer["cost_usd"] == pytest.approx(expected)
    record = (await alice.call("GET", f"/runs/{answer['run_id']}")).json()
    assert record["status"] == "succeeded" and record["agent"] == agent
    assert (record["model_calls"], record["tool_calls"]) == (2, 1)
    assert record["usage"] == usage and record["cost_usd"] == pytest.approx(expected)
    assert all(step["duration_ms"] > 0 for step in record["steps"])


async def every_model_call_is_the_users_in_the_ledger(platform: Platform, agent: str) -> None:
    carol = await platform.user("carol")
    with platform.agent_model(agent, "priced-calc-bot"):
        answer = await carol.ok(agent, message="2 + 3")
    rows = await chat_rows(platform, carol)
    assert [(row["model"], row["status"]) for row in rows] == [("priced-calc-bot", 200)] * 2
    service = platform.state.platform_service_id
    assert all(row["principal_id"] == carol.id for row in rows)
    assert all(row["acting_via"] == service for row in rows)
    assert sum(row["input_tokens"] for row in rows) == answer["usage"]["prompt_tokens"]
    assert sum(row["output_tokens"] for row in rows) == answer["usage"]["completion_tokens"]
    assert sum(row["cost_usd"] for row in rows) == pytest.approx(answer["cost_usd"])


async def a_streamed_run_sends_tool_events_then_text(platform: Platform, agent: str) -> None:
    alice = await platform.user("alice")
    events = await alice.stream(agent, message="3 * 4")
    kinds = [event["type"] for event in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    assert kinds.index("tool_call_started") < kinds.index("tool_call_finished")
    assert kinds.index("tool_call_finished") < kinds.index("text_delta")
    started = events[kinds.index("tool_call_started")]
    finished = events[kinds.index("tool_call_finished")]
    assert started["call_id"] == finished["call_id"] and finished["result"] == "12"
    deltas = [event["text"] for event in events if event["type"] == "text_delta"]
    assert len(deltas) > 1
    assert "".join(deltas) == events[-1]["output"] == "The answer is 12."
    assert events[-1]["usage"]["total_tokens"] > 0
    record = (await alice.call("GET", f"/runs/{events[0]['run_id']}")).json()
    assert record["model_calls"] == 2 and record["usage"] == events[-1]["usage"]


async def the_step_limit_stops_a_looping_model(platform: Platform, agent: str) -> None:
    alice = await platform.user("alice")
    with platform.agent_model(agent, "loop-bot"):
        response = await alice.invoke(agent, message="loop")
        events = await alice.stream(agent, message="loop")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "step_limit_reached"
    assert error["message"] == (
        "The agent made 10 model calls without finishing (agents.max_steps is 10)."
    )
    [run] = (await alice.call("GET", "/runs", params={"status": "failed", "limit": 1})).json()[
        "data"
    ]
    assert (run["model_calls"], run["tool_calls"]) == (10, 10)
    assert events[-1]["type"] == "error" and events[-1]["code"] == "step_limit_reached"


async def a_run_may_use_exactly_max_steps_model_calls(platform: Platform, agent: str) -> None:
    alice = await platform.user("alice")
    settings = platform.state.settings.agents
    settings.max_steps = 2
    try:
        answer = await alice.ok(agent, message="5 * 5")
        with platform.agent_model(agent, "loop-bot"):
            refused = await alice.invoke(agent, message="loop")
    finally:
        settings.max_steps = 10
    assert answer["output"] == "The answer is 25." and len(answer["steps"]) == 3
    assert refused.status_code == 422
    assert "made 2 model calls" in refused.json()["error"]["message"]


async def a_gateway_error_keeps_its_status(platform: Platform, agent: str) -> None:
    alice = await platform.user("alice")
    with platform.agent_model(agent, "broken-bot"):
        response = await alice.invoke(agent, message="hello")
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_unavailable"
    [run] = (await alice.call("GET", "/runs")).json()["data"]
    assert run["status"] == "failed" and run["error_code"] == "upstream_unavailable"


async def a_run_on_the_packaged_local_model(data_dir: Path, admin_key: str, agent: str) -> None:
    async with local_platform(data_dir, admin_key) as local:
        erin = await local.user("erin")
        events = await erin.stream(agent, message="Say hello.")
        done = events[-1]
        assert done["type"] == "run_finished", done
        record = (await erin.call("GET", f"/runs/{done['run_id']}")).json()
        rows = await chat_rows(local, erin)
    assert record["status"] == "succeeded" and record["model"] == LOCAL_MODEL
    model_steps = [step for step in record["steps"] if step["kind"] == "model"]
    assert model_steps and all(0 < s["usage"]["completion_tokens"] <= 8 for s in model_steps)
    assert [row["model"] for row in rows] == [LOCAL_MODEL] * len(model_steps)
    assert sum(row["output_tokens"] for row in rows) == done["usage"]["completion_tokens"]


async def turn_two_knows_what_was_said_in_turn_one(platform: Platform, agent: str) -> None:
    alice = await platform.user("alice")
    with platform.agent_model(agent, "history-bot"):
        first = await alice.ok(agent, message="my name is Alice")
        session = first["session_id"]
        second = await alice.ok(agent, message="what is my name?", session_id=session)
        other = await alice.ok(agent, message="what is my name?")
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


def fumbling_reply(request: ChatCompletionRequest) -> str | dict[str, object]:
    """A scripted model that first calls a tool wrongly (arguments that are not JSON for
    "bad-json", an unknown tool for "teleport"), then answers with what it was told."""
    last = request.messages[-1]
    if isinstance(last, ToolMessage):
        return f"told: {message_text(last.content)}"
    if message_text(last.content) == "teleport":
        return {"tool_calls": [{"name": "teleport", "arguments": {"to": "Mars"}}]}
    return {"tool_calls": [{"name": "calculator", "arguments": '{"expression": '}]}


FUMBLING_MODEL = ModelEntry(
    alias="fumble-bot",
    capabilities={"chat", "streaming", "tools"},
    deployments=[
        Deployment(
            provider="test", model="fumble", options={"function": "agent_checks:fumbling_reply"}
        )
    ],
)


async def a_wrong_tool_call_is_answered_not_fatal(
    data_dir: Path, admin_key: str, agent: str
) -> None:
    settings = agent_settings(
        data_dir, admin_key, f"sqlite+aiosqlite:///{data_dir / 'p.db'}", default_model="fumble-bot"
    )
    settings.models.append(FUMBLING_MODEL)
    async with running(settings) as platform:
        user = await platform.user("gina")
        bad_json = await user.ok(agent, message="bad-json")
        unknown = await user.ok(agent, message="teleport")
    assert bad_json["output"] == (
        'told: {"error":"the arguments are not valid JSON: send a JSON object"}'
    )
    [call] = bad_json["tool_calls"]
    assert call["arguments"] == '{"expression": ' and call["is_error"] is True
    assert unknown["output"].startswith("told: ") and "'teleport'" in unknown["output"]
    assert [step["kind"] for step in unknown["steps"]][-1] == "model"


async def a_run_past_its_timeout_fails_as_run_timeout(platform: Platform, agent: str) -> None:
    """The run timeout cancels the agent's run and its model call in flight."""
    user = await platform.user("hana")
    settings = platform.state.settings.agents
    settings.run_timeout_seconds = 0.5
    try:
        with platform.agent_model(agent, "slow-bot"):
            response = await user.invoke(agent, message="slowly")
    finally:
        settings.run_timeout_seconds = 300
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "run_timeout"
    [run] = (await user.call("GET", "/runs")).json()["data"]
    assert run["status"] == "failed" and run["error_code"] == "run_timeout"
