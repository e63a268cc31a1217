"""One migration tree upgrades and downgrades both SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import inspect

from agentic_platform.db.engine import create_engine
from agentic_platform.db.migrate import current_revision, upgrade
from agentic_platform.db.tables import metadata


async def _tables(database_url: str) -> set[str]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def test_upgrade_creates_every_table_then_downgrade_removes_them(database_url: str) -> None:
    await upgrade(database_url)
    assert set(metadata.tables) <= await _tables(database_url)
    engine = create_engine(database_url)
    try:
        assert await current_revision(engine) is not None
    finally:
        await engine.dispose()
    await upgrade(database_url)  # a second upgrade is a no-op
    assert set(metadata.tables) <= await _tables(database_url)


async def test_downgrade_to_base(database_url: str) -> None:
    import asyncio

    from alembic import command

    from agentic_platform.db.migrate import alembic_config

    await upgrade(database_url)
    await asyncio.to_thread(command.downgrade, alembic_config(database_url), "base")
    assert not (set(metadata.tables) & await _tables(database_url))


async def test_models_match_migrations(database_url: str) -> None:
    """Autogenerate finds nothing to add: the tables and the migration tree agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    await upgrade(database_url)
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:

            def diff(sync_connection):  # type: ignore[no-untyped-def]
                context = MigrationContext.configure(sync_connection)
                return compare_metadata(context, metadata)

            changes = await connection.run_sync(diff)
    finally:
        await engine.dispose()
    assert changes == []
