"""Extraction with the packaged local model (SmolLM2-135M, the default extraction model), end
to end: turns appended over HTTP, the worker asks the real model through the LLM gateway with
the extraction schema, and what it answers is stored with its sources."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from memory_harness import Platform, memory_settings, running

from agentic_platform.llm_gateway.catalog import default_models

pytestmark = [pytest.mark.local_model, pytest.mark.asyncio(loop_scope="module")]

MODEL = "smollm2-135m"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(
    tmp_path_factory: pytest.TempPathFactory, admin_key: str
) -> AsyncIterator[Platform]:
    data_dir: Path = tmp_path_factory.mktemp("local-extraction")
    settings = memory_settings(
        data_dir,
        admin_key,
        (f"sqlite+aiosqlite:///{data_dir / 'platform.db'}", None),
        extraction_model=MODEL,
        extraction_max_attempts=1,
    )
    chat = [entry for entry in default_models() if entry.alias == MODEL]
    settings.models = [*settings.models, *chat]
    async with running(settings) as started:
        yield started


async def _extracted(platform: Platform, session: str, user_secret: str) -> dict[str, object]:
    """The session's extraction status once the worker is done with every turn."""
    async with asyncio.timeout(240):
        await platform.memory.worker.drain()
    async with platform.client(user_secret) as http:
        response = await http.get(f"/memory/v1/sessions/{session}/extraction")
    assert response.status_code == 200, response.text
    status: dict[str, object] = response.json()
    return status


async def test_the_packaged_model_extracts_memories_with_sources(platform: Platform) -> None:
    ada = await platform.user("ada")
    session = await ada.session("concierge")
    turns = await ada.say(
        session,
        "Hi! I'm Ada, nice to meet you.",
        "I am allergic to peanuts, so never suggest dishes with peanuts.",
        "I moved to Lisbon in March 2024 and I work there as a nurse.",
        name="Ada",
    )
    status = await _extracted(platform, session, ada.secret)
    assert status["status"] == "succeeded", status["last_error"]
    assert status["model"] == MODEL and status["pending_turns"] == 0

    listed = await ada.ok("GET", "/memories")
    memories = listed["data"]
    assert memories, "the model stored no memory"
    turn_ids = {turn["id"] for turn in turns}
    for memory in memories:
        assert memory["origin"] == "extracted" and memory["agent_id"] == "concierge"
        assert memory["text"].strip() and memory["type"] in (
            "preference",
            "fact",
            "event",
            "instruction",
        )
        assert memory["sources"] and {s["message_id"] for s in memory["sources"]} <= turn_ids

    kinds = ["preference", "fact", "event", "instruction"]  # memories, not raw turns
    hits = await ada.search(
        "peanuts", top_k=3, filter={"field": "type", "op": "in", "value": kinds}
    )
    assert hits and "peanut" in hits[0]["text"].lower()
