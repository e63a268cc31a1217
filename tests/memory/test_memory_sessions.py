"""Sessions and their history: create, read, list, append turn by turn, page, delete."""

from __future__ import annotations

import asyncio

import pytest
from memory_harness import Platform

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_create_get_list_and_delete(platform: Platform) -> None:
    alice = await platform.user("alice")
    first = await alice.session("planner", topic="trip")
    second = await alice.session("coder")
    got = await alice.ok("GET", f"/sessions/{first}")
    assert got["user_id"] == alice.id
    assert got["agent_id"] == "planner"
    assert got["metadata"] == {"topic": "trip"}
    listed = await alice.ok("GET", "/sessions")
    assert [s["id"] for s in listed["data"]] == [second, first]
    only = await alice.ok("GET", "/sessions", params={"agent_id": "coder"})
    assert [s["id"] for s in only["data"]] == [second]
    page = await alice.ok("GET", "/sessions", params={"limit": 1})
    assert page["has_more"] is True and len(page["data"]) == 1
    await alice.say(first, "hello")
    assert (await alice.call("DELETE", f"/sessions/{first}")).status_code == 204
    assert (await alice.call("GET", f"/sessions/{first}")).status_code == 404
    assert (await alice.call("GET", f"/sessions/{first}/messages")).status_code == 404


async def test_turns_are_appended_in_order_and_paged(platform: Platform) -> None:
    bob = await platform.user("bob")
    session = await bob.session()
    turns = await bob.say(session, *(f"turn {i}" for i in range(1, 8)))
    assert [t["position"] for t in turns] == list(range(1, 8))
    assert turns[0]["role"] == "user" and turns[0]["content"] == "turn 1"

    everything = await bob.ok("GET", f"/sessions/{session}/messages")
    assert [m["content"] for m in everything["data"]] == [f"turn {i}" for i in range(1, 8)]
    assert everything["has_more"] is False

    page = await bob.ok("GET", f"/sessions/{session}/messages", params={"limit": 3})
    assert [m["position"] for m in page["data"]] == [1, 2, 3] and page["has_more"]
    after = await bob.ok("GET", f"/sessions/{session}/messages", params={"after": 3, "limit": 3})
    assert [m["position"] for m in after["data"]] == [4, 5, 6]
    before = await bob.ok("GET", f"/sessions/{session}/messages", params={"before": 4, "limit": 2})
    assert [m["position"] for m in before["data"]] == [2, 3] and before["has_more"]
    last = await bob.ok("GET", f"/sessions/{session}/messages", params={"last": 2})
    assert [m["content"] for m in last["data"]] == ["turn 6", "turn 7"]


async def test_a_turn_keeps_its_speaker_time_and_metadata(platform: Platform) -> None:
    carol = await platform.user("carol")
    session = await carol.session()
    [turn] = await carol.say(
        session,
        "We met at the museum.",
        role="assistant",
        name="Guide",
        metadata={"lang": "en"},
        occurred_at="2023-05-08T13:56:00+02:00",
    )
    assert turn["name"] == "Guide" and turn["role"] == "assistant"
    assert turn["metadata"] == {"lang": "en"}
    assert turn["occurred_at"].startswith("2023-05-08T11:56:00")


async def test_concurrent_appends_get_distinct_gapless_positions(platform: Platform) -> None:
    dave = await platform.user("dave")
    session = await dave.session()
    async with dave.client() as http:
        responses = await asyncio.gather(
            *(
                http.post(
                    f"/memory/v1/sessions/{session}/messages",
                    json={"role": "user", "content": f"parallel {i}"},
                )
                for i in range(12)
            )
        )
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses]
    assert sorted(r.json()["position"] for r in responses) == list(range(1, 13))


async def test_turns_become_searchable_in_the_background(platform: Platform) -> None:
    erin = await platform.user("erin")
    session = await erin.session()
    await erin.say(session, "My sister Judith plays the cello in an orchestra.")
    await platform.settle()
    status = await erin.ok("GET", f"/sessions/{session}/extraction")
    assert status["indexed_through"] == status["last_position"] == 1
    assert status["status"] == "disabled" and status["enabled"] is False
    [hit] = await erin.search("Judith cello")
    assert hit["type"] == "message" and hit["origin"] == "message"
    assert hit["sources"][0]["content"].startswith("My sister Judith")
    assert hit["sources"][0]["position"] == 1 and hit["session_id"] == session


async def test_deleting_a_session_removes_its_turns_from_search(platform: Platform) -> None:
    fay = await platform.user("fay")
    session = await fay.session()
    await fay.say(session, "The spare key is under the blue flowerpot.")
    await platform.settle()
    assert await fay.search("spare key flowerpot")
    await fay.ok("DELETE", f"/sessions/{session}")
    assert await fay.search("spare key flowerpot") == []
