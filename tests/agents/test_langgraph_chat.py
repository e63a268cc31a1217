"""``langgraph-chat``: a LangGraph chat graph (recall → model ⇄ tools → answer) on the
platform's gateways, with the conversation kept in the memory gateway across turns."""

from __future__ import annotations

import asyncio

import pytest
from agents_harness import Platform

pytestmark = pytest.mark.asyncio(loop_scope="module")

AGENT = "langgraph-chat"


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
