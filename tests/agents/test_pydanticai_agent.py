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
