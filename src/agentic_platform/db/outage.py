"""Telling a database outage from a bug: which errors mean "the database cannot be reached
right now" (a 503 the caller may retry) rather than a query that is wrong (a 500).

An outage shows up in three shapes: a socket error while connecting (``OSError``: refused,
reset, no such Unix socket, timed out), a PostgreSQL error of the connection class or of a
server shutting down, starting up or out of connection slots (SQLSTATE ``08…``, ``57P01``
to ``57P03``, ``53300``; asyncpg's own and SQLAlchemy's adapted errors both carry it), and a
SQLAlchemy ``DBAPIError`` whose connection was found dead and invalidated mid-query. asyncpg's
``InternalClientError`` ("cannot switch to state N; another operation is in progress") counts
too: it is what the next query on a connection meets when the server ended the session
between two queries (a shutdown's notice arrives before the socket closes). An error
raised while one of those was being handled (asyncpg closing a transaction on a dead
connection, say) is the same outage: the chain of causes is followed a few links deep.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

_OUTAGE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")
_CHAIN_DEPTH = 4


def is_outage(error: BaseException) -> bool:
    """True when ``error`` means the database is unreachable, not that the request failed."""
    link: BaseException | None = error
    for _ in range(_CHAIN_DEPTH):
        if link is None:
            return False
        if _is_outage_itself(link):
            return True
        link = link.__cause__ or link.__context__
    return False


def _is_outage_itself(error: BaseException) -> bool:
    cause: BaseException | None = error
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return True
        cause = error.orig
    if isinstance(cause, OSError) or _broken_client_state(cause):
        return True
    sqlstate = getattr(cause, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate.startswith(_OUTAGE_SQLSTATES)


def _broken_client_state(error: BaseException | None) -> bool:
    try:
        from asyncpg.exceptions import InternalClientError
    except ImportError:  # the postgres extra is not installed: no asyncpg error to meet
        return False
    return isinstance(error, InternalClientError)
