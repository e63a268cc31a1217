"""Workflow tests: the agents platform with the retrieval gateway too (knowledge bases the
workflows are grounded in), every workflow on the scripted ``flow-bot``
(``workflow_replies.workflow_reply``), on SQLite and PostgreSQL."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

sys.path.insert(0, str(Path(__file__).parent))  # workflow_replies, for the test provider

from agents_harness import Platform, agent_settings, running
from workflows_harness import WORKFLOWS, flow_model

from agentic_platform.settings import RetrievalSettings


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(
    agents_database: str, tmp_path_factory: pytest.TempPathFactory, admin_key: str
) -> AsyncIterator[Platform]:
    """Every workflow on ``flow-bot``; ``slow-flow-bot`` answers after 0.3 s (concurrency)."""
    settings = agent_settings(
        tmp_path_factory.mktemp("data"),
        admin_key,
        agents_database,
        agent_models=dict.fromkeys(WORKFLOWS, "flow-bot"),
    )
    settings.models = [
        *settings.models,
        flow_model("flow-bot"),
        flow_model("slow-flow-bot", delay_seconds=0.3),
    ]
    settings.services = [*settings.services, "retrieval"]
    settings.retrieval = RetrievalSettings(
        default_embedding_model="test-embed", default_backend="memory"
    )
    async with running(settings) as started:
        yield started
