"""When the extraction model answers junk nothing is stored, the error shows in the session's
extraction status, and the turns stay searchable; appends never wait for the model."""

from __future__ import annotations

import asyncio
import time

import pytest
from memory_harness import Platform

pytestmark = pytest.mark.asyncio(loop_scope="module")

MEMORY_SETTINGS = {"extraction_model": "memory-junk", "extraction_max_attempts": 1}


async def test_junk_stores_nothing_and_reports_the_error(platform: Platform) -> None:
    ann = await platform.user("ann")
    session = await ann.session()
    await ann.say(session, "I love green tea.", "I live in Oslo.")
    await platform.settle()
    status = await ann.ok("GET", f"/sessions/{session}/extraction")
    assert status["status"] == "failed"
    assert "not JSON" in status["last_error"] and status["last_error_at"] is not None
    assert status["model"] == "memory-junk"
    assert (await ann.ok("GET", "/memories"))["data"] == []
    [hit] = await ann.search("green tea", top_k=1)
    assert hit["type"] == "message"  # the turn itself is still found


async def test_appends_do_not_wait_for_extraction(platform: Platform) -> None:
    cid = await platform.user("cid")
    session = await cid.session()
    async with cid.client() as http:
        started = time.perf_counter()
        for i in range(20):
            response = await http.post(
                f"/memory/v1/sessions/{session}/messages",
                json={"role": "user", "content": f"message {i}"},
            )
            assert response.status_code == 201
        elapsed = time.perf_counter() - started
    assert elapsed < 10
    await asyncio.wait_for(platform.settle(), 30)
