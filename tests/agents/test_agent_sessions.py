"""Sessions through the memory gateway: each run loads the session's history and recalled
memories and appends its turn, as the user; two users' interleaved runs never mix."""

from __future__ import annotations

import asyncio

import pytest
from agents_harness import Platform, User

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def _turns(user: User, session_id: str) -> list[tuple[str, str]]:
    async with user.client() as http:
        page = (await http.get(f"/memory/v1/sessions/{session_id}/messages")).json()
    return [(turn["role"], turn["content"]) for turn in page["data"]]


async def test_each_turn_is_appended_and_the_next_run_sees_it(platform: Platform) -> None:
    alice = await platform.user("alice")
    with platform.agent_model("diy-agent", "history-bot"):
        first = await alice.ok(message="my name is Alice")
        session = first["session_id"]
        second = await alice.ok(message="what is my name?", session_id=session)
    assert first["output"].startswith("earlier=0;")
    assert second["output"].startswith("earlier=1; history=my name is Alice;")
    assert second["session_id"] == session
    turns = await _turns(alice, session)
    assert turns == [
        ("user", "my name is Alice"),
        ("assistant", first["output"]),
        ("user", "what is my name?"),
        ("assistant", second["output"]),
    ]
    async with alice.client() as http:
        created = (await http.get(f"/memory/v1/sessions/{session}")).json()
    assert created["agent_id"] == "diy-agent" and created["user_id"] == alice.id


async def test_recalled_memories_are_the_users_own(platform: Platform) -> None:
    alice, bob = await platform.user("alice"), await platform.user("bob")
    async with alice.client() as http:
        await http.post("/memory/v1/memories", json={"text": "Alice drinks green tea"})
    async with bob.client() as http:
        await http.post("/memory/v1/memories", json={"text": "Bob drinks black coffee"})
    async with asyncio.timeout(30):
        await platform.state.memory.worker.drain()
    with platform.agent_model("diy-agent", "history-bot"):
        answer = await alice.ok(message="what do I drink?")
    assert "memories=Alice drinks green tea" in answer["output"]
    assert "coffee" not in answer["output"]


async def test_interleaved_runs_of_two_users_never_mix(platform: Platform) -> None:
    alice, bob = await platform.user("alice"), await platform.user("bob")

    async def converse(user: User, word: str) -> tuple[str, list[str]]:
        session = (await user.ok(message=f"{word}-0"))["session_id"]
        outputs = []
        for turn in range(1, 6):
            answer = await user.ok(message=f"{word}-{turn}", session_id=session)
            assert answer["session_id"] == session
            outputs.append(answer["output"])
        return session, outputs

    with platform.agent_model("diy-agent", "history-bot"):
        (alice_session, alice_out), (bob_session, bob_out) = await asyncio.gather(
            converse(alice, "apple"), converse(bob, "banana")
        )
    assert alice_session != bob_session
    assert all("banana" not in output for output in alice_out)
    assert all("apple" not in output for output in bob_out)
    assert alice_out[-1].startswith(
        "earlier=5; history=apple-0 / apple-1 / apple-2 / apple-3 / apple-4;"
    )
    alice_turns = await _turns(alice, alice_session)
    assert [text for role, text in alice_turns if role == "user"] == [
        f"apple-{n}" for n in range(6)
    ]
    assert all("banana" not in text for _, text in alice_turns)
    assert (await bob.invoke(message="x", session_id=alice_session)).status_code == 404
    bob_runs = (await bob.call("GET", "/runs")).json()["data"]
    assert {run["session_id"] for run in bob_runs} == {bob_session}
