"""Applies the Alembic migration tree shipped inside the package."""

from __future__ import annotations

import asyncio
from importlib import resources

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from agentic_platform.db.engine import prepare_sqlite_file


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option(
        "script_location", str(resources.files("agentic_platform") / "migrations")
    )
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_sync(database_url: str, revision: str = "head") -> None:
    """Run in a thread of its own: Alembic's env drives its own event loop."""
    prepare_sqlite_file(database_url)
    command.upgrade(alembic_config(database_url), revision)


async def upgrade(database_url: str, revision: str = "head") -> None:
    await asyncio.to_thread(upgrade_sync, database_url, revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:

        def read(sync_connection: object) -> str | None:
            if not inspect(sync_connection).has_table("alembic_version"):
                return None
            row = sync_connection.exec_driver_sql(  # type: ignore[attr-defined]
                "SELECT version_num FROM alembic_version"
            ).first()
            return str(row[0]) if row else None

        return await connection.run_sync(read)
