"""A turn is searchable soon after its append, however busy the writers: the indexer works in
rounds, and one round embeds the new turns of every waiting session with one call per owner."""

from __future__ import annotations

import asyncio
import time

import pytest
from memory_harness import Platform, User

pytestmark = pytest.mark.asyncio(loop_scope="module")

MEMORY_SETTINGS = {"index_delay_seconds": 0.3}
WRITERS = 8


async def embedding_calls(platform: Platform, user: User) -> int:
    await platform.app.state.platform.metering.ledger.flush()
    page = await platform.admin_call(
        "GET", "/admin/v1/usage/records", params={"principal_id": user.id, "limit": 500}
    )
    return sum(1 for row in page["records"] if row["endpoint"] == "embeddings")


async def test_one_round_indexes_every_waiting_session_with_one_embedding_call(
    platform: Platform,
) -> None:
    kim = await platform.user("kim")
    sessions = [await kim.session() for _ in range(WRITERS)]
    await platform.settle()
    before = await embedding_calls(platform, kim)
    await asyncio.gather(
        *(kim.say(session, f"Turn {i} of a busy afternoon.") for i, session in enumerate(sessions))
    )
    await platform.settle()
    calls = await embedding_calls(platform, kim) - before
    assert 1 <= calls <= 2, f"{WRITERS} sessions took {calls} embedding calls"
    for session in sessions:
        status = await kim.ok("GET", f"/sessions/{session}/extraction")
        assert status["indexed_through"] == status["last_position"] == 1


async def test_a_turn_is_found_soon_while_writers_append_flat_out(platform: Platform) -> None:
    lee = await platform.user("lee")
    writing = asyncio.Event()
    writing.set()

    async def writer(session: str) -> int:
        count = 0
        while writing.is_set():
            await lee.say(session, f"Load turn {count} about nothing in particular.")
            count += 1
        return count

    # The scripted embedder ranks every load turn close to any query, so the probe looks for
    # its word alone: a turn is in the index with its vector and its text at once.
    writers = [asyncio.create_task(writer(await lee.session())) for _ in range(WRITERS)]
    probe = await lee.session()
    waits: list[float] = []
    try:
        await asyncio.sleep(0.5)
        for word in ("saffron", "quokka", "tundra"):
            [turn] = await lee.say(probe, f"My locker code word is {word}.")
            appended = time.perf_counter()
            while not any(
                source["message_id"] == turn["id"]
                for hit in await lee.search(f"locker code {word}", mode="lexical")
                for source in hit["sources"]
            ):
                assert time.perf_counter() - appended < 10, f"'{word}' not found in 10 s"
                await asyncio.sleep(0.05)
            waits.append(time.perf_counter() - appended)
    finally:
        writing.clear()
        appended_by_writers = sum(await asyncio.gather(*writers))
    assert appended_by_writers > 3 * WRITERS, "the writers did not load the gateway"
    assert max(waits) < 5.0, f"append to searchable took {waits} s"
