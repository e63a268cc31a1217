"""Long-term memories extracted in the background by a (scripted) model through the LLM
gateway: sources kept, newer facts win, nothing stored twice, tokens metered to the user."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from memory_harness import Platform, User

pytestmark = pytest.mark.asyncio(loop_scope="module")

MEMORY_SETTINGS = {"extraction_model": "memory-extractor", "extraction_context_turns": 2}


async def _memories(user: User) -> list[dict[str, Any]]:
    listed = await user.ok("GET", "/memories")
    return sorted(listed["data"], key=lambda m: m["created_at"])


async def test_memories_are_extracted_with_their_sources(platform: Platform) -> None:
    ann = await platform.user("ann")
    session = await ann.session("concierge")
    turns = await ann.say(
        session,
        "Hi there!",
        "I love green tea in the morning.",
        "I live in Oslo.",
        name="Ann",
    )
    await platform.settle()
    memories = await _memories(ann)
    assert [(m["type"], m["text"]) for m in memories] == [
        ("preference", "Ann likes green tea in the morning"),
        ("fact", "Ann lives in Oslo"),
    ]
    assert [[s["message_id"] for s in m["sources"]] for m in memories] == [
        [turns[1]["id"]],
        [turns[2]["id"]],
    ]
    assert memories[0]["sources"][0]["content"] == "I love green tea in the morning."
    assert all(m["origin"] == "extracted" and m["agent_id"] == "concierge" for m in memories)
    status = await ann.ok("GET", f"/sessions/{session}/extraction")
    assert status["status"] == "succeeded" and status["model"] == "memory-extractor"
    assert status["extracted_through"] == 3 and status["pending_turns"] == 0
    assert status["memories_added"] == 2 and status["last_error"] is None
    [hit] = await ann.search("tea", filter={"field": "type", "op": "eq", "value": "preference"})
    assert hit["id"] == memories[0]["id"] and hit["sources"][0]["message_id"] == turns[1]["id"]


async def test_a_memorys_sources_carry_the_metadata_stored_with_their_turns(
    platform: Platform,
) -> None:
    bea = await platform.user("bea")
    session = await bea.session()
    await bea.say(session, "I live in Oslo.", name="Bea", metadata={"chat_message_id": "m-17"})
    await platform.settle()
    [memory] = await _memories(bea)
    assert memory["sources"][0]["metadata"] == {"chat_message_id": "m-17"}
    [hit] = await bea.search("Oslo", filter={"field": "type", "op": "eq", "value": "fact"})
    assert hit["sources"][0]["metadata"] == {"chat_message_id": "m-17"}
    [turn] = await bea.search("Oslo", filter={"field": "type", "op": "eq", "value": "message"})
    assert turn["metadata"] == turn["sources"][0]["metadata"] == {"chat_message_id": "m-17"}


async def test_newer_facts_update_and_contradictions_delete(platform: Platform) -> None:
    ben = await platform.user("ben")
    session = await ben.session()
    first = await ben.say(session, "I live in Oslo.", "I like jazz records.", name="Ben")
    await platform.settle()
    before = {m["text"]: m for m in await _memories(ben)}
    home = before["Ben lives in Oslo"]
    later = await ben.say(
        session, "I live in Bergen since May.", "I no longer like jazz records.", name="Ben"
    )
    await platform.settle()
    after = await _memories(ben)
    assert [m["text"] for m in after] == ["Ben lives in Bergen since May"]
    assert after[0]["id"] == home["id"]
    assert [s["message_id"] for s in after[0]["sources"]] == [first[0]["id"], later[0]["id"]]
    status = await ben.ok("GET", f"/sessions/{session}/extraction")
    assert (status["memories_updated"], status["memories_deleted"]) == (1, 1)
    assert await ben.search("Oslo", filter={"field": "type", "op": "neq", "value": "message"})
    hits = await ben.search(
        "jazz records", filter={"field": "type", "op": "neq", "value": "message"}
    )
    assert all("jazz" not in hit["text"] for hit in hits)


async def test_extraction_is_idempotent(platform: Platform) -> None:
    cid = await platform.user("cid")
    session = await cid.session()
    await cid.say(session, "I prefer aisle seats.", "Please always answer in French.", name="Cid")
    await platform.settle()
    stored = await _memories(cid)
    assert len(stored) == 2
    pipeline = platform.memory.worker.pipeline
    state = await pipeline.state(session)
    assert state is not None
    done_session, done = state
    stale = type(done)(session_id=session, extracted_through=0, attempts=0)
    replay = await pipeline.extract(done_session, stale, "memory-extractor")  # a lagging replica
    assert replay.added == [] and replay.updated == []
    again = await pipeline.extract(done_session, done, "memory-extractor")  # nothing new
    assert again.added == []
    platform.memory.worker.extracting.put(session)
    await platform.settle()
    assert [m["id"] for m in await _memories(cid)] == [m["id"] for m in stored]


async def test_the_same_memory_is_not_stored_twice(platform: Platform) -> None:
    dora = await platform.user("dora")
    one, two = await dora.session(), await dora.session()
    await dora.say(one, "I like mountain hikes.", name="Dora")
    await dora.say(two, "I like mountain hikes!", name="Dora")
    await platform.settle()
    [memory] = await _memories(dora)
    assert len(memory["sources"]) == 2
    direct = await dora.call(
        "POST", "/memories", json={"text": "dora LIKES mountain hikes.", "agent_id": "helper"}
    )
    assert direct.status_code == 200 and direct.json()["id"] == memory["id"]


async def test_extraction_tokens_are_metered_to_the_user(platform: Platform) -> None:
    eve = await platform.user("eve")
    session = await eve.session()
    await eve.say(session, "I love sailing.", name="Eve")
    await platform.settle()
    records: list[dict[str, Any]] = []
    for _ in range(50):
        page = await platform.admin_call(
            "GET", "/admin/v1/usage/records", params={"principal_id": eve.id}
        )
        records = page["records"]
        if any(r["model"] == "memory-extractor" for r in records):
            break
        await asyncio.sleep(0.1)
    extraction = [r for r in records if r["model"] == "memory-extractor"]
    assert extraction and extraction[0]["input_tokens"] > 0
    assert extraction[0]["acting_via"] is not None  # the platform's service called for Eve
    assert any(r["model"] == "test-embed" for r in records)  # indexing is metered too


async def test_two_workers_on_one_batch_call_the_model_once(platform: Platform) -> None:
    fin = await platform.user("fin")
    session = await fin.session()
    gateway = platform.memory
    wake = gateway.sessions.on_append
    gateway.sessions.on_append = lambda _session_id: None  # as if another replica took them
    try:
        await fin.say(session, "I love rowing on the fjord.", name="Fin")
    finally:
        gateway.sessions.on_append = wake
    pipeline = gateway.worker.pipeline
    state = await pipeline.state(session)
    assert state is not None
    runs = await asyncio.gather(
        *(pipeline.extract(state[0], state[1], "memory-extractor") for _ in range(2))
    )
    assert sorted(run.claimed for run in runs) == [False, True]
    assert sum(len(run.added) for run in runs) == 1
    records: list[dict[str, Any]] = []
    for _ in range(50):
        page = await platform.admin_call(
            "GET", "/admin/v1/usage/records", params={"principal_id": fin.id}
        )
        records = [r for r in page["records"] if r["model"] == "memory-extractor"]
        if records:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.3)  # a second call, if any, would have been recorded by now
    page = await platform.admin_call(
        "GET", "/admin/v1/usage/records", params={"principal_id": fin.id}
    )
    assert len([r for r in page["records"] if r["model"] == "memory-extractor"]) == 1
