"""Workflows on the packaged local model (SmolLM2-135M) end to end: its structured steps are
grammar-constrained JSON, so the router's label is always one it offers and every vote is
readable."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from agents_harness import Platform, agent_settings, running
from workflows_harness import assert_well_ordered, step_names

from agentic_platform.llm_gateway.catalog import default_models

pytestmark = [pytest.mark.local_model, pytest.mark.asyncio(loop_scope="module")]

MODEL = "smollm2-135m"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(
    tmp_path_factory: pytest.TempPathFactory, admin_key: str
) -> AsyncIterator[Platform]:
    data_dir = tmp_path_factory.mktemp("local-workflows")
    settings = agent_settings(
        data_dir,
        admin_key,
        f"sqlite+aiosqlite:///{data_dir / 'platform.db'}",
        agent_models={"routing": MODEL, "parallelization-voting": MODEL},
    )
    settings.models = [*settings.models, *(m for m in default_models() if m.alias == MODEL)]
    async with running(settings) as started:
        yield started


async def test_the_router_streams_a_route_it_offers_on_the_local_model(
    platform: Platform,
) -> None:
    alice = await platform.user("alice")
    events = await alice.stream("routing", message="What is 12 times 12?")
    assert_well_ordered(events)
    steps = [e["name"] for e in events if e["type"] == "step_started"]
    assert steps[0] == "classify" and steps[1] in ("route:math", "route:general")
    assert len(steps) == 2
    classified = "".join(
        e["text"] for e in events if e["type"] == "text_delta" and e["step"] == "classify"
    )
    assert classified.startswith('{"route": "')
    done = events[-1]
    assert done["output"].strip() and done["usage"]["completion_tokens"] > 0


async def test_every_local_vote_is_readable(platform: Platform) -> None:
    alice = await platform.user("alice")
    answer = await alice.ok("parallelization-voting", message="What is the capital of France?")
    assert sorted(step_names(answer)) == ["vote-1", "vote-2", "vote-3"]
    assert answer["output"].endswith(" of 3 votes)")
    assert not answer["output"].startswith("None of the 3 votes")
    assert all(step["usage"]["completion_tokens"] > 0 for step in answer["steps"])
