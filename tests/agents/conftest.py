"""Agent tests run on SQLite and on PostgreSQL. One platform per module and database keeps
the suite fast; each test makes its own users, so tests never see each other's runs."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

sys.path.insert(0, str(Path(__file__).parent))  # the harness, as pyproject does for others

from agents_harness import Platform, agent_settings, running

from agentic_platform.testing.postgres import database_urls


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def agents_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    yield from database_urls(request.param, tmp_path_factory.mktemp("agents"))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(
    request: pytest.FixtureRequest,
    agents_database: str,
    tmp_path_factory: pytest.TempPathFactory,
    admin_key: str,
) -> AsyncIterator[Platform]:
    """The platform for one module; a module sets ``AGENT_SETTINGS`` to change the agent
    settings."""
    overrides = getattr(request.module, "AGENT_SETTINGS", {})
    settings = agent_settings(
        tmp_path_factory.mktemp("data"), admin_key, agents_database, **overrides
    )
    async with running(settings) as started:
        yield started
