"""What every framework agent of the platform must do, run for PydanticAI's and LangGraph's:
a scripted tool call through to the answer (steps, tool calls, usage, cost, the run record),
the gateway's ledger charging the user, the stream's event order, the session across turns,
the step limit, a gateway error, a fumbled tool call, the run timeout, and one short run on the
packaged local model."""

from __future__ import annotations

import agent_checks as checks
import pytest
from agents_harness import Platform, agent_settings, running
from local_platform import LOCAL_MODEL, local_platform

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(params=["pydanticai-agent", "langgraph-chat"])
def agent(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_a_tool_call_then_an_answer_is_recorded_with_usage_and_cost(
    platform: Platform, agent: str
) -> None:
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


async def test_every_model_call_is_the_users_in_the_ledger(platform: Platform, agent: str) -> None:
    carol = await platform.user("carol")
    with platform.agent_model(agent, "priced-calc-bot"):
        answer = await carol.ok(agent, message="2 + 3")
    rows = await checks.chat_rows(platform, carol)
    assert [(row["model"], row["status"]) for row in rows] == [("priced-calc-bot", 200)] * 2
    service = platform.state.platform_service_id
    assert all(row["principal_id"] == carol.id for row in rows)
    assert all(row["acting_via"] == service for row in rows)
    assert sum(row["input_tokens"] for row in rows) == answer["usage"]["prompt_tokens"]
    assert sum(row["output_tokens"] for row in rows) == answer["usage"]["completion_tokens"]
    assert sum(row["cost_usd"] for row in rows) == pytest.approx(answer["cost_usd"])


async def test_a_streamed_run_sends_tool_events_then_text(platform: Platform, agent: str) -> None:
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


async def test_the_step_limit_stops_a_looping_model(platform: Platform, agent: str) -> None:
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


async def test_a_run_may_use_exactly_max_steps_model_calls(platform: Platform, agent: str) -> None:
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


async def test_a_gateway_error_keeps_its_status(platform: Platform, agent: str) -> None:
    alice = await platform.user("alice")
    with platform.agent_model(agent, "broken-bot"):
        response = await alice.invoke(agent, message="hello")
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_unavailable"
    [run] = (await alice.call("GET", "/runs")).json()["data"]
    assert run["status"] == "failed" and run["error_code"] == "upstream_unavailable"


@pytest.mark.local_model
async def test_a_run_on_the_packaged_local_model(
    tmp_path_factory: pytest.TempPathFactory, admin_key: str, agent: str
) -> None:
    data_dir = tmp_path_factory.mktemp("local")
    async with local_platform(data_dir, admin_key) as local:
        erin = await local.user("erin")
        events = await erin.stream(agent, message="Say hello.")
        done = events[-1]
        assert done["type"] == "run_finished", done
        record = (await erin.call("GET", f"/runs/{done['run_id']}")).json()
        rows = await checks.chat_rows(local, erin)
    assert record["status"] == "succeeded" and record["model"] == LOCAL_MODEL
    model_steps = [step for step in record["steps"] if step["kind"] == "model"]
    assert model_steps and all(0 < s["usage"]["completion_tokens"] <= 8 for s in model_steps)
    assert [row["model"] for row in rows] == [LOCAL_MODEL] * len(model_steps)
    assert sum(row["output_tokens"] for row in rows) == done["usage"]["completion_tokens"]


async def test_turn_two_knows_what_was_said_in_turn_one(platform: Platform, agent: str) -> None:
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


async def test_a_wrong_tool_call_is_answered_not_fatal(
    tmp_path_factory: pytest.TempPathFactory, admin_key: str, agent: str
) -> None:
    data_dir = tmp_path_factory.mktemp("fumble")
    settings = agent_settings(
        data_dir, admin_key, f"sqlite+aiosqlite:///{data_dir / 'p.db'}", default_model="fumble-bot"
    )
    settings.models.append(checks.FUMBLING_MODEL)
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


async def test_a_run_past_its_timeout_fails_as_run_timeout(platform: Platform, agent: str) -> None:
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
