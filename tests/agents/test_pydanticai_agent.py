"""``pydanticai-agent``: PydanticAI's agent loop on the gateway's OpenAI-compatible API as the
user, with the platform's tools, sessions, limits, run records and stream."""

from __future__ import annotations

import base64
import uuid

import agent_checks as checks
import pytest
from agents_harness import Platform, User

pytestmark = pytest.mark.asyncio(loop_scope="module")

AGENT = "pydanticai-agent"
PNG_PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154"
    "789c6360000002000154a24f5d0000000049454e44ae426082"
)


async def test_a_tool_call_then_an_answer_is_recorded_with_usage_and_cost(
    platform: Platform,
) -> None:
    await checks.a_tool_run_is_recorded_with_usage_and_cost(platform, AGENT)


async def test_every_model_call_is_the_users_in_the_ledger(platform: Platform) -> None:
    await checks.every_model_call_is_the_users_in_the_ledger(platform, AGENT)


async def test_a_streamed_run_sends_tool_events_then_text(platform: Platform) -> None:
    await checks.a_streamed_run_sends_tool_events_then_text(platform, AGENT)


async def test_turn_two_knows_what_was_said_in_turn_one(platform: Platform) -> None:
    await checks.turn_two_knows_what_was_said_in_turn_one(platform, AGENT)


async def test_the_step_limit_stops_a_looping_model(platform: Platform) -> None:
    await checks.the_step_limit_stops_a_looping_model(platform, AGENT)


async def test_a_run_may_use_exactly_max_steps_model_calls(platform: Platform) -> None:
    await checks.a_run_may_use_exactly_max_steps_model_calls(platform, AGENT)


async def test_a_gateway_error_keeps_its_status(platform: Platform) -> None:
    await checks.a_gateway_error_keeps_its_status(platform, AGENT)


@pytest.mark.local_model
async def test_a_run_on_the_packaged_local_model(
    tmp_path_factory: pytest.TempPathFactory, admin_key: str
) -> None:
    await checks.a_run_on_the_packaged_local_model(
        tmp_path_factory.mktemp("local"), admin_key, AGENT
    )


async def test_a_spent_budget_fails_the_run_with_a_429(platform: Platform) -> None:
    plan = await platform.admin_call(
        "POST",
        "/admin/v1/plans",
        json={"name": f"tiny-{uuid.uuid4().hex[:8]}", "budget_usd_per_day": 0.01},
    )
    alice = await platform.user("alice", plan_id=plan["id"])
    with platform.agent_model(AGENT, "priced-calc-bot"):
        response = await alice.invoke(AGENT, message="1 + 1")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "budget_exceeded"
    assert response.json()["error"]["type"] == "insufficient_quota"


async def test_a_model_missing_from_the_catalog_is_a_503_naming_the_setting(
    platform: Platform,
) -> None:
    alice = await platform.user("alice")
    with platform.agent_model(AGENT, "no-such-model"):
        response = await alice.invoke(AGENT, message="hi")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "agent_model_unavailable"


async def test_a_keys_model_allowlist_holds(platform: Platform) -> None:
    alice = await platform.user("alice")
    key = await platform.admin_call(
        "POST",
        "/admin/v1/keys",
        json={"principal_id": alice.id, "name": "echo-only", "allowed_models": ["echo"]},
    )
    refused = await User(platform, alice.id, key["secret"]).invoke(AGENT, message="1 + 1")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "model_not_allowed"
    assert await checks.chat_rows(platform, alice) == []


async def test_a_message_of_text_and_image_parts_is_answered(platform: Platform) -> None:
    alice = await platform.user("alice")
    pixel = "data:image/png;base64," + base64.b64encode(PNG_PIXEL).decode()
    parts = [
        {"type": "text", "text": "9 *"},
        {"type": "image_url", "image_url": {"url": pixel}},
        {"type": "image_url", "image_url": {"url": "https://example.com/chart.png"}},
        {"type": "text", "text": " 9"},
    ]
    answer = await alice.ok(AGENT, message=parts)
    assert answer["output"] == "The answer is 81."


async def test_a_wrong_tool_call_is_answered_not_fatal(
    tmp_path_factory: pytest.TempPathFactory, admin_key: str
) -> None:
    await checks.a_wrong_tool_call_is_answered_not_fatal(
        tmp_path_factory.mktemp("fumble"), admin_key, AGENT
    )


async def test_a_run_past_its_timeout_fails_as_run_timeout(platform: Platform) -> None:
    await checks.a_run_past_its_timeout_fails_as_run_timeout(platform, AGENT)
