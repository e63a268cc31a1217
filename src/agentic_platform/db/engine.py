"""Engine and session factory for the configured database URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from agentic_platform.data_dir import make_private, make_private_file
from agentic_platform.errors import ConfigurationError, DatabaseUnavailableError

_SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def prepare_sqlite_file(url: str) -> None:
    """For a SQLite URL: create the database file 0600 (its folder 0700) before SQLite
    does, so it and its -wal and -shm files are private; make existing ones private."""
    parsed = make_url(url)
    if parsed.drivername != "sqlite+aiosqlite" or parsed.database in (None, "", ":memory:"):
        return
    path = Path(parsed.database)
    make_private_file(path)
    for suffix in _SQLITE_COMPANIONS:
        make_private(path.with_name(path.name + suffix))


def create_engine(url: str) -> AsyncEngine:
    """An async engine; SQLite gets WAL and foreign keys, and its file is created private."""
    parsed = make_url(url)
    if parsed.drivername == "sqlite+aiosqlite":
        prepare_sqlite_file(url)
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.drivername == "postgresql+asyncpg":
        try:
            import asyncpg  # noqa: F401
        except ImportError as exc:
            raise ConfigurationError(
                "PostgreSQL needs the 'postgres' extra: pip install 'agentic-platform[postgres]'"
            ) from exc
        engine = create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)
        event.listen(engine.sync_engine, "do_connect", _connect_or_unavailable)
        return engine
    raise ConfigurationError(f"unsupported database URL scheme '{parsed.drivername}'")


def _connect_or_unavailable(
    dialect: Dialect, _record: object, cargs: tuple[Any, ...], cparams: dict[str, Any]
) -> Any:
    """Open a connection, or raise :class:`DatabaseUnavailableError` (503, retry later).

    Whatever stops a connection from opening (refused, no socket, the server starting up or
    shutting down, out of connection slots, the database closed to connections) leaves the
    request undone and nothing the caller sent at fault; the engine was already proven
    against this database at start-up. The pool pre-pings every connection it hands out, so
    connections broken by a database restart are replaced here, on the next checkout, and the
    engine recovers by itself.
    """
    try:
        return dialect.connect(*cargs, **cparams)
    except Exception as error:
        raise DatabaseUnavailableError() from error


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def session_factory(engine: AsyncEngine) -> async_sessionmaker:  # type: ignore[type-arg]
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
