"""A turn the worker has not indexed yet is found by its words, by its owner only, under the
caller's filter, and once indexed it is found once (the worker is stopped in this module, so
every turn stays unindexed until a test indexes it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from memory_harness import Platform, User

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module", autouse=True)
async def worker_stopped(platform: Platform) -> AsyncIterator[None]:
    await platform.worker_stopped()
    yield


def found(hits: list[dict[str, Any]], turn_id: str) -> list[dict[str, Any]]:
    """The hits whose sources name the turn."""
    return [hit for hit in hits for s in hit["sources"] if s["message_id"] == turn_id]


async def appended(user: User, text: str, **extra: Any) -> tuple[str, str]:
    session = await user.session()
    [turn] = await user.say(session, text, **extra)
    return session, turn["id"]


async def test_a_new_turn_is_found_by_its_words_before_it_is_indexed(platform: Platform) -> None:
    ana = await platform.user("ana")
    session, turn = await appended(ana, "My locker code word is marzipan.")
    status = await ana.ok("GET", f"/sessions/{session}/extraction")
    assert status["indexed_through"] == 0 and status["last_position"] == 1

    [hit] = found(await ana.search("locker code marzipan"), turn)
    assert hit["score"] <= 1  # fused from its cosine and its BM25, as the index fuses
    assert hit["type"] == "message" and hit["text"] == "My locker code word is marzipan."
    assert found(await ana.search("marzipan", mode="lexical"), turn)
    assert not found(await ana.search("locker code marzipan", mode="semantic"), turn)
    above = hit["score"] + 0.01
    assert not found(await ana.search("locker code marzipan", min_score=above), turn)
    assert not found(await ana.search("an unrelated question"), turn)


async def test_filters_and_owners_hold_for_turns_not_indexed_yet(platform: Platform) -> None:
    ben, cleo = await platform.user("ben"), await platform.user("cleo")
    session, turn = await appended(ben, "The spare key is under the geranium pot.")
    other = await ben.session()
    query = "spare key geranium"
    assert found(
        await ben.search(query, filter={"field": "session_id", "op": "eq", "value": session}), turn
    )
    for where in (
        {"field": "session_id", "op": "eq", "value": other},
        {"field": "role", "op": "eq", "value": "assistant"},
        {"field": "type", "op": "eq", "value": "fact"},
    ):
        assert not found(await ben.search(query, filter=where), turn), where
    assert not found(await cleo.search(query), turn)
    admin = await platform.admin()
    assert found(await admin.search(query, user_id=ben.id), turn)


async def test_once_indexed_a_turn_is_found_once_and_was_embedded_once(
    platform: Platform,
) -> None:
    dara = await platform.user("dara")
    session, turn = await appended(dara, "We adopted a greyhound called Biscuit.")
    [before] = found(await dara.search("greyhound Biscuit"), turn)
    calls = await embedding_calls(platform, dara)
    await platform.memory.worker.pipeline.index_sessions([session])
    assert await embedding_calls(platform, dara) == calls  # the search's vector was kept
    status = await dara.ok("GET", f"/sessions/{session}/extraction")
    assert status["indexed_through"] == 1
    [after] = found(await dara.search("greyhound Biscuit"), turn)
    assert after["score"] == pytest.approx(before["score"], abs=1e-4)  # fused alike
    assert found(await dara.search("greyhound Biscuit", mode="semantic"), turn)


async def embedding_calls(platform: Platform, user: User) -> int:
    await platform.app.state.platform.metering.ledger.flush()
    page = await platform.admin_call(
        "GET", "/admin/v1/usage/records", params={"principal_id": user.id, "limit": 500}
    )
    return sum(1 for row in page["records"] if row["endpoint"] == "embeddings")
