"""A platform whose agents call the packaged local model (SmolLM2-135M, llama.cpp), for one
short end-to-end run per agent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.util import find_spec
from pathlib import Path

import pytest
from agents_harness import Platform, agent_settings, running

from agentic_platform.llm_gateway.catalog import default_models

LOCAL_MODEL = "smollm2-135m"


@asynccontextmanager
async def local_platform(data_dir: Path, admin_key: str) -> AsyncIterator[Platform]:
    """Agents on ``smollm2-135m``, answers cut at 8 tokens, on SQLite."""
    if find_spec("xllamacpp") is None:
        pytest.skip("needs the 'local' extra")
    settings = agent_settings(
        data_dir,
        admin_key,
        f"sqlite+aiosqlite:///{data_dir / 'platform.db'}",
        default_model=LOCAL_MODEL,
        max_tokens=8,
    )
    settings.models.extend(entry for entry in default_models() if entry.alias == LOCAL_MODEL)
    async with running(settings) as platform:
        yield platform
