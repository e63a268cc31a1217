"""Governance tests run on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from governance_harness import Platform, governed, running

from agentic_platform.settings import Settings


@pytest.fixture
def governed_settings(settings: Settings, database_url: str) -> Settings:
    return governed(settings, database_url)


@pytest.fixture
async def platform(governed_settings: Settings) -> AsyncIterator[Platform]:
    async with running(governed_settings) as started:
        yield started
