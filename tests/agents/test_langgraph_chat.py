"""``langgraph-chat``: a LangGraph chat graph (recall → model ⇄ tools → answer) on the
platform's gateways, with the conversation kept in the memory gateway across turns."""

from __future__ import annotations

import asyncio

import agent_checks as checks
import pytest
from agents_harness import Platform

pytestmark = pytest.mark.asyncio(loop_scope="module")

AGENT = "langgraph-chat"


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


async def test_the_users_own_memories_are_recalled_into_the_graph(platform: Platform) -> None:
    alice, bob = await platform.user("alice"), await platform.user("bob")
    async with alice.client() as http:
        await http.post("/memory/v1/memories", json={"text": "Alice drinks green tea"})
    async with bob.client() as http:
        await http.post("/memory/v1/memories", json={"text": "Bob drinks black coffee"})
    async with asyncio.timeout(30):
        await platform.state.memory.worker.drain()
    with platform.agent_model(AGENT, "history-bot"):
        answer = await alice.ok(AGENT, message="what do I drink?")
    assert "memories=Alice drinks green tea" in answer["output"]
    assert "coffee" not in answer["output"]


async def test_a_wrong_tool_call_is_answered_not_fatal(
    tmp_path_factory: pytest.TempPathFactory, admin_key: str
) -> None:
    await checks.a_wrong_tool_call_is_answered_not_fatal(
        tmp_path_factory.mktemp("fumble"), admin_key, AGENT
    )


async def test_a_run_past_its_timeout_fails_as_run_timeout(platform: Platform) -> None:
    await checks.a_run_past_its_timeout_fails_as_run_timeout(platform, AGENT)
