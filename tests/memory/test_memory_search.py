"""Search over memories and turns: hybrid ranking, the platform filter grammar (agent, type,
time range), and sources on every result."""

from __future__ import annotations

import pytest
from memory_harness import Platform, User

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def _seeded(platform: Platform) -> tuple[User, dict[str, str]]:
    """A user with turns in two agents' sessions and direct memories of each type."""
    gus = await platform.user("gus")
    chef, coach = await gus.session("chef"), await gus.session("coach")
    await gus.say(chef, "I am allergic to peanuts.", name="Gus", occurred_at="2023-03-01T10:00:00Z")
    await gus.say(
        coach, "I ran a marathon in Berlin.", name="Gus", occurred_at="2023-09-24T08:00:00Z"
    )
    ids = {}
    for text, kind, agent, when in (
        ("Gus prefers vegetarian dinners", "preference", "chef", None),
        ("Gus finished the Berlin marathon in 3h50", "event", "coach", "2023-09-24T12:00:00Z"),
        ("Always answer Gus in metric units", "instruction", None, None),
    ):
        body = {"text": text, "type": kind, "agent_id": agent, "occurred_at": when}
        ids[kind] = (await gus.ok("POST", "/memories", json=body))["id"]
    await platform.settle()
    return gus, ids


async def test_direct_memories_are_searchable_at_once(platform: Platform) -> None:
    hal = await platform.user("hal")
    made = await hal.ok("POST", "/memories", json={"text": "Hal's dog is named Biscuit"})
    [hit] = await hal.search("dog Biscuit", filter={"field": "type", "op": "eq", "value": "fact"})
    assert hit["id"] == made["id"] and hit["origin"] == "direct" and hit["sources"] == []
    assert hit["score"] > 0


async def test_filters_by_agent_type_and_time(platform: Platform) -> None:
    gus, ids = await _seeded(platform)
    by_type = await gus.search("marathon", filter={"field": "type", "op": "eq", "value": "event"})
    assert [h["id"] for h in by_type] == [ids["event"]]
    chef_only = await gus.search(
        "food", top_k=20, filter={"field": "agent_id", "op": "eq", "value": "chef"}
    )
    assert chef_only and all(h["agent_id"] == "chef" for h in chef_only)
    autumn = await gus.search(
        "marathon Berlin",
        top_k=20,
        filter={
            "and": [
                {"field": "time", "op": "gte", "value": "2023-09-01"},
                {"field": "time", "op": "lt", "value": "2023-10-01"},
            ]
        },
    )
    assert {h["type"] for h in autumn} == {"event", "message"}
    assert all(h["occurred_at"].startswith("2023-09") for h in autumn)
    turns_only = await gus.search(
        "peanuts", top_k=20, filter={"field": "type", "op": "eq", "value": "message"}
    )
    assert turns_only[0]["text"] == "I am allergic to peanuts."
    kinds = {"field": "type", "op": "in", "value": ["preference", "instruction"]}
    assert {h["id"] for h in await gus.search("Gus", top_k=20, filter=kinds)} == {
        ids["preference"],
        ids["instruction"],
    }


async def test_results_carry_their_sources(platform: Platform) -> None:
    ida = await platform.user("ida")
    session = await ida.session()
    [turn] = await ida.say(session, "Book the window seat on the 7:40 train to Leeds.")
    made = await ida.ok(
        "POST",
        "/memories",
        json={
            "text": "Ida takes the 7:40 train to Leeds",
            "type": "event",
            "source_message_ids": [turn["id"]],
        },
    )
    await platform.settle()
    hits = await ida.search("train to Leeds", top_k=5)
    by_id = {h["id"]: h for h in hits}
    [source] = by_id[made["id"]]["sources"]
    assert source == {
        "message_id": turn["id"],
        "session_id": session,
        "position": 1,
        "role": "user",
        "name": None,
        "content": "Book the window seat on the 7:40 train to Leeds.",
        "occurred_at": turn["created_at"],
        "metadata": {},
    }
    assert by_id[turn["id"]]["sources"][0]["message_id"] == turn["id"]
    await ida.ok("DELETE", f"/sessions/{session}")
    [kept] = await ida.search("train to Leeds", top_k=5)
    assert kept["id"] == made["id"]
    assert kept["sources"][0]["content"] is None  # the turn is gone; the memory says where from
    assert kept["sources"][0]["metadata"] is None


async def test_modes_top_k_and_memory_changes(platform: Platform) -> None:
    gus, ids = await _seeded(platform)
    for mode in ("hybrid", "semantic", "lexical"):
        assert len(await gus.search("vegetarian dinners", mode=mode, top_k=2)) <= 2
    [lexical] = await gus.search("vegetarian", mode="lexical", top_k=1)
    assert lexical["id"] == ids["preference"]
    await gus.ok("PATCH", f"/memories/{ids['preference']}", json={"text": "Gus eats fish now"})
    assert await gus.search("vegetarian", mode="lexical") == []
    [changed] = await gus.search("fish", mode="lexical")
    assert changed["text"] == "Gus eats fish now"
    await gus.ok("DELETE", f"/memories/{ids['preference']}")
    assert await gus.search("fish", mode="lexical") == []
