"""The agent API end to end: the diy-agent asks the scripted model, which calls the
calculator through the tool box, and answers from its result; every call goes through the
gateways as the caller."""

from __future__ import annotations

import pytest
from agents_harness import Platform

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_the_agent_list_describes_each_agent(platform: Platform) -> None:
    alice = await platform.user("alice")
    listed = (await alice.call("GET", "")).json()["data"]
    diy = next(card for card in listed if card["name"] == "diy-agent")
    assert diy["kind"] == "agent"
    assert "calculator" in diy["tools"] and "search_knowledge_base" in diy["tools"]
    assert diy["input_schema"]["required"] == ["message"]


async def test_a_scripted_tool_call_runs_the_calculator_and_answers(platform: Platform) -> None:
    alice = await platform.user("alice")
    answer = await alice.ok(message="(17 * 23) + 2 ** 3")
    assert answer["status"] == "succeeded"
    assert answer["output"] == "The answer is 399."
    assert answer["message"] == {"role": "assistant", "content": "The answer is 399."}
    [call] = answer["tool_calls"]
    assert call["name"] == "calculator"
    assert call["arguments"] == '{"expression": "(17 * 23) + 2 ** 3"}'
    assert call["result"] == "399" and call["is_error"] is False
    assert call["duration_ms"] >= 0
    assert [(s["kind"], s["name"]) for s in answer["steps"]] == [
        ("model", "calc-bot"),
        ("tool", "calculator"),
        ("model", "calc-bot"),
    ]
    usage = answer["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert sum(s["usage"]["total_tokens"] for s in answer["steps"]) == usage["total_tokens"]
    assert answer["session_id"] and answer["run_id"]


async def test_the_model_calls_are_metered_as_the_user(platform: Platform) -> None:
    alice = await platform.user("alice")
    await alice.ok(message="6 * 7")
    await platform.state.metering.ledger.flush()
    page = await platform.admin_call(
        "GET", "/admin/v1/usage/records", params={"principal_id": alice.id}
    )
    calls = [row for row in page["records"] if row["model"] == "calc-bot"]
    assert len(calls) == 2
    assert {row["acting_via"] for row in calls} == {platform.state.platform_service_id}
    assert {row["status"] for row in calls} == {200}


async def test_a_bad_expression_is_an_error_the_model_reads(platform: Platform) -> None:
    alice = await platform.user("alice")
    answer = await alice.ok(message="__import__('os').system('true')")
    [call] = answer["tool_calls"]
    assert call["is_error"] is True
    assert "is not allowed" in call["result"]
    assert answer["output"].startswith("The tool failed: the tool 'calculator' failed:")


async def test_content_parts_are_accepted(platform: Platform) -> None:
    alice = await platform.user("alice")
    answer = await alice.ok(message=[{"type": "text", "text": "2 + 2"}])
    assert answer["output"] == "The answer is 4."


async def test_an_unknown_agent_is_a_404(platform: Platform) -> None:
    alice = await platform.user("alice")
    response = await alice.invoke("no-such-agent", message="hi")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "agent_not_found" and "diy-agent" in error["message"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "message"),
        ({"message": 5}, "message"),
        ({"message": "   "}, "message"),
        ({"message": []}, "message"),
        ({"message": [{"type": "audio"}]}, "message"),
        ({"message": "hi", "colour": "red"}, "colour"),
        ({"message": "hi", "session_id": ""}, "session_id"),
        ({"message": "hi", "metadata": []}, "metadata"),
    ],
)
async def test_a_malformed_message_is_a_400_naming_the_field(
    platform: Platform, body: dict[str, object], param: str
) -> None:
    alice = await platform.user("alice")
    response = await alice.invoke(**body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"].startswith(param)


async def test_an_oversized_message_is_a_413(platform: Platform) -> None:
    alice = await platform.user("alice")
    response = await alice.invoke(message="9" * (32 * 1024 + 1))
    assert response.status_code == 413
    assert "agents.max_message_bytes" in response.json()["error"]["message"]


async def test_another_users_session_is_not_found(platform: Platform) -> None:
    alice, bob = await platform.user("alice"), await platform.user("bob")
    session = (await alice.ok(message="1 + 1"))["session_id"]
    response = await bob.invoke(message="2 + 2", session_id=session)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "session_not_found"
    missing = await bob.invoke(message="2 + 2", session_id="no-such-session")
    assert missing.status_code == 404
    assert missing.json()["error"] == response.json()["error"] | {
        "message": "No session 'no-such-session'."
    }


async def test_the_step_limit_ends_the_run(platform: Platform) -> None:
    alice = await platform.user("alice")
    with platform.agent_model("diy-agent", "loop-bot"):
        response = await alice.invoke(message="loop")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "step_limit_reached" and "agents.max_steps is 10" in error["message"]


async def test_no_key_is_a_401(platform: Platform) -> None:
    async with platform.client("") as http:
        response = await http.post("/agents/v1/diy-agent/invoke", json={"message": "hi"})
    assert response.status_code == 401
