"""A database that cannot be reached is a 503 the caller may retry; a query that is wrong is
still a 500. Real engines, real driver errors."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from agentic_platform.db.engine import create_engine, ping
from agentic_platform.db.outage import is_outage
from agentic_platform.errors import DatabaseUnavailableError
from agentic_platform.testing.redis_server import free_port
from agentic_platform.web.errors import install_error_handlers


async def test_a_refused_connection_is_database_unavailable() -> None:
    engine = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/agentic")
    try:
        with pytest.raises(DatabaseUnavailableError) as raised:
            await ping(engine)
    finally:
        await engine.dispose()
    assert raised.value.status_code == 503
    assert isinstance(raised.value.__cause__, OSError)


async def _sqlite_error(tmp_path: Path) -> DBAPIError:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'bug.db'}")
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT * FROM no_such_table"))
    except DBAPIError as error:
        return error
    finally:
        await engine.dispose()
    raise AssertionError("the query should have failed")


async def test_what_counts_as_an_outage(tmp_path: Path) -> None:
    wrong_query = await _sqlite_error(tmp_path)
    assert not is_outage(wrong_query)
    assert not is_outage(asyncpg.UndefinedTableError("relation does not exist"))
    assert is_outage(ConnectionRefusedError(111, "refused"))
    assert is_outage(asyncpg.CannotConnectNowError("the database system is starting up"))
    assert is_outage(asyncpg.AdminShutdownError("terminating connection"))
    assert is_outage(asyncpg.TooManyConnectionsError("too many clients"))
    invalidated = DBAPIError("SELECT 1", None, RuntimeError("gone"), connection_invalidated=True)
    assert is_outage(invalidated)
    with pytest.raises(asyncpg.InterfaceError) as raised:
        _close_a_transaction_on_a_lost_connection()
    assert is_outage(raised.value)  # raised while handling a lost connection: the same outage


def _close_a_transaction_on_a_lost_connection() -> None:
    try:
        raise asyncpg.ConnectionDoesNotExistError(
            "connection was closed in the middle of operation"
        )
    except asyncpg.ConnectionDoesNotExistError:
        raise asyncpg.InterfaceError("the underlying connection is closed")  # noqa: B904


async def test_a_lost_connection_answers_503_and_a_wrong_query_500(tmp_path: Path) -> None:
    wrong_query = await _sqlite_error(tmp_path)
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/lost")
    async def lost() -> None:
        raise DBAPIError("SELECT 1", None, OSError("reset"), connection_invalidated=True)

    @app.get("/wrong")
    async def wrong() -> None:
        raise wrong_query

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
        lost_answer, wrong_answer = await http.get("/lost"), await http.get("/wrong")
    assert lost_answer.status_code == 503
    assert lost_answer.headers["retry-after"] == "1"
    assert lost_answer.json()["error"] == {
        "message": "The database is unavailable, retry later.",
        "type": "server_error",
        "param": None,
        "code": "database_unavailable",
    }
    assert wrong_answer.status_code == 500
    assert "no_such_table" not in wrong_answer.text
