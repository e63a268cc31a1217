"""Memory tests run on SQLite (embedded index) and on PostgreSQL (pgvector index, on the
private embedded server). One platform per module and backend keeps the suite fast; each test
makes its own users, so tests never see each other's data."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from memory_harness import Platform, memory_settings, running

POSTGRES_ADMIN_URL = os.environ.get(
    "AGENTIC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


async def _postgres(statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def memory_backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str | None]]:
    """(platform database URL, pgvector URL or None) for one module."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("memory") / "platform.db"
        yield f"sqlite+aiosqlite:///{path}", None
        return
    pgvector_url: str = request.getfixturevalue("pgvector_url")
    name = f"agentic_memory_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_postgres(f'CREATE DATABASE "{name}"'))
    except OSError as error:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {error}")
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        yield f"{base}/{name}", pgvector_url
    finally:
        asyncio.run(_postgres(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(
    request: pytest.FixtureRequest,
    memory_backend: tuple[str, str | None],
    tmp_path_factory: pytest.TempPathFactory,
    admin_key: str,
) -> AsyncIterator[Platform]:
    """The platform for one module; a module sets ``MEMORY_SETTINGS`` to change the memory
    settings (e.g. turn extraction on)."""
    overrides = getattr(request.module, "MEMORY_SETTINGS", {})
    settings = memory_settings(
        tmp_path_factory.mktemp("data"), admin_key, memory_backend, **overrides
    )
    settings.governance.ledger_flush_seconds = 0.1
    async with running(settings) as started:
        yield started
