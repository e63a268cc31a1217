"""Throwaway databases on a PostgreSQL server (``AGENTIC_TEST_POSTGRES_URL``, default the
local server), for tests that must run on the real thing."""

from __future__ import annotations

import asyncio
import os
import uuid

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
