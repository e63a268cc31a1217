"""Throwaway databases on a PostgreSQL server (``AGENTIC_TEST_POSTGRES_URL``, default the
local server), for tests that must run on the real thing."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

POSTGRES_ADMIN_URL = os.environ.get(
    "AGENTIC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def create_database() -> str:
    """A new, empty database on the machine's PostgreSQL; returns its name."""
    import asyncpg

    name = f"agentic_test_{uuid.uuid4().hex[:12]}"

    async def create() -> None:
        connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    asyncio.run(create())
    return name


def drop_database(name: str) -> None:
    import asyncpg

    async def drop() -> None:
        connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()

    asyncio.run(drop())


def database_urls(backend: str, directory: Path) -> Iterator[str]:
    """One database URL for a test on ``backend`` (``sqlite`` in ``directory``, or a fresh
    PostgreSQL database dropped afterwards). Off CI, an unreachable PostgreSQL skips the test;
    on CI it fails it."""
    import pytest

    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{directory / 'platform.db'}"
        return
    try:
        name = create_database()
    except OSError as error:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {error}")
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        yield f"{base}/{name}"
    finally:
        drop_database(name)
