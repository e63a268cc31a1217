"""Old sessions expire (history and indexed turns); long-term memories stay unless the
session is deleted with its memories."""

from __future__ import annotations

from datetime import timedelta

import pytest
from memory_harness import Platform
from sqlalchemy import update

from agentic_platform.db.base import utcnow
from agentic_platform.memory.models import MessageRow, SessionRow

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def _age(platform: Platform, session_id: str, days: float) -> None:
    """Pretend the session and its turns were stored ``days`` ago."""
    then = utcnow() - timedelta(days=days)
    async with platform.app.state.platform.sessions() as db, db.begin():
        await db.execute(
            update(SessionRow).where(SessionRow.id == session_id).values(created_at=then)
        )
        await db.execute(
            update(MessageRow).where(MessageRow.session_id == session_id).values(created_at=then)
        )


async def test_idle_sessions_expire_and_leave_search(platform: Platform) -> None:
    kim = await platform.user("kim")
    old, recent, revived = await kim.session(), await kim.session(), await kim.session()
    [turn] = await kim.say(old, "The wifi password is pelican42.")
    await kim.say(recent, "Lunch at noon.")
    await kim.say(revived, "Started a new book.")
    memory = await kim.ok(
        "POST",
        "/memories",
        json={"text": "Kim's wifi password", "source_message_ids": [turn["id"]]},
    )
    await platform.settle()
    await _age(platform, old, 40)
    await _age(platform, revived, 40)
    await kim.say(revived, "Finished the book.")  # a new turn keeps the session alive

    expired = await platform.memory.worker.expire_sessions(timedelta(days=30))

    assert expired >= 1
    assert (await kim.call("GET", f"/sessions/{old}")).status_code == 404
    assert (await kim.call("GET", f"/sessions/{recent}")).status_code == 200
    assert (await kim.call("GET", f"/sessions/{revived}")).status_code == 200
    assert (
        await kim.search(
            "pelican42", mode="lexical", filter={"field": "type", "op": "eq", "value": "message"}
        )
        == []
    )
    kept = await kim.ok("GET", f"/memories/{memory['id']}")
    assert kept["sources"][0]["message_id"] == turn["id"] and kept["sources"][0]["content"] is None


async def test_deleting_a_session_with_its_memories(platform: Platform) -> None:
    lou = await platform.user("lou")
    session = await lou.session()
    [turn] = await lou.say(session, "I am vegan.")
    await lou.ok(
        "POST", "/memories", json={"text": "Lou is vegan", "source_message_ids": [turn["id"]]}
    )
    elsewhere = await lou.ok("POST", "/memories", json={"text": "Lou plays chess"})
    await lou.ok("DELETE", f"/sessions/{session}", params={"delete_memories": "true"})
    assert [m["id"] for m in (await lou.ok("GET", "/memories"))["data"]] == [elsewhere["id"]]
    assert [h["id"] for h in await lou.search("vegan chess", top_k=10)] == [elsewhere["id"]]
