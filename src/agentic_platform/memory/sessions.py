"""Sessions and their history: create, read, page, append one turn, delete, expire.

Appending is the hot path (an agent does it every turn), so it is one INSERT ... SELECT that
checks the session's owner and numbers the turn in the same statement: no embedding, no
model call, no second write. The background worker learns of the turn from an in-process
signal (and, for turns other replicas took, from a sweep) and indexes it later.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Insert, String, and_, bindparam, delete, func, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from agentic_platform.auth.keys import new_id
from agentic_platform.auth.models import PrincipalRow
from agentic_platform.auth.principal import Principal
from agentic_platform.db.base import UTCDateTime, utcnow
from agentic_platform.errors import ConflictError, NotFoundError, PayloadTooLargeError
from agentic_platform.memory import schemas
from agentic_platform.memory.access import not_found, owner_for, visible
from agentic_platform.memory.models import ExtractionRow, MessageRow, SessionRow
from agentic_platform.memory.writers import Writers

_APPEND_RETRIES = 10


def _append_statement(*, own: bool) -> Insert:
    """INSERT ... SELECT of one turn: numbered after the session's last turn, and written only
    if the session exists (and, with ``own``, belongs to the caller). Built once: the append
    is the hot path, and a prebuilt Core statement skips the ORM and the statement build."""
    next_position = (
        select(func.coalesce(func.max(MessageRow.position), 0) + 1)
        .where(MessageRow.session_id == SessionRow.id)
        .scalar_subquery()
    )
    values: list[tuple[Any, Any]] = [
        (MessageRow.id, bindparam("id", type_=String)),
        (MessageRow.session_id, SessionRow.id),
        (MessageRow.position, next_position),
        (MessageRow.role, bindparam("role", type_=String)),
        (MessageRow.name, bindparam("name", type_=String)),
        (MessageRow.content, bindparam("content", type_=String)),
        (MessageRow.metadata_, bindparam("metadata", type_=JSON)),
        (MessageRow.occurred_at, bindparam("occurred_at", type_=UTCDateTime)),
        (MessageRow.created_at, bindparam("created_at", type_=UTCDateTime)),
    ]
    source = select(*(value for _, value in values)).where(
        SessionRow.id == bindparam("session_id", type_=String)
    )
    if own:
        source = source.where(SessionRow.owner_id == bindparam("owner_id", type_=String))
    return (
        insert(MessageRow)
        .from_select([column for column, _ in values], source)
        .returning(MessageRow.position)
    )


_APPEND_OWN = _append_statement(own=True)
_APPEND_ANY = _append_statement(own=False)


class SessionStore:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        engine: AsyncEngine,
        writers: Writers,
        *,
        max_message_bytes: int,
        on_append: Callable[[str], None] = lambda _session_id: None,
    ) -> None:
        self._sessions = sessions
        self._engine = engine
        self.writers = writers
        self._max_bytes = max_message_bytes
        self.on_append = on_append
        """Called with the session id after each append (the worker's wake-up)."""

    # --- sessions ------------------------------------------------------------------------

    async def create(self, caller: Principal, spec: schemas.SessionCreate) -> SessionRow:
        owner_id = owner_for(caller, spec.user_id)
        async with self._sessions() as db, db.begin():
            owner = await db.get(PrincipalRow, owner_id)
            if owner is None:
                raise NotFoundError(f"No user '{owner_id}'.", param="user_id")
            row = SessionRow(
                id=new_id("ses"),
                owner_id=owner_id,
                team_id=owner.team_id,
                agent_id=spec.agent_id,
                metadata_=spec.metadata,
                created_at=utcnow(),
            )
            db.add(row)
            await db.flush()
            db.add(ExtractionRow(session_id=row.id))
        return row

    async def get(self, caller: Principal, session_id: str) -> SessionRow:
        async with self._sessions() as db:
            return await self._visible(db, caller, session_id)

    async def page(
        self,
        caller: Principal,
        *,
        user_id: str | None,
        agent_id: str | None,
        limit: int,
        offset: int,
    ) -> tuple[list[SessionRow], bool]:
        """Newest first. Admins see their own unless they name a ``user_id``."""
        query = select(SessionRow).where(SessionRow.owner_id == owner_for(caller, user_id))
        if agent_id is not None:
            query = query.where(SessionRow.agent_id == agent_id)
        query = query.order_by(SessionRow.created_at.desc(), SessionRow.id.desc())
        async with self._sessions() as db:
            rows = list((await db.scalars(query.offset(offset).limit(limit + 1))).all())
        return rows[:limit], len(rows) > limit

    async def delete(self, caller: Principal, session_id: str) -> SessionRow:
        """Remove the session and its history (the extraction status goes with it)."""
        async with self._sessions() as db, db.begin():
            row = await self._visible(db, caller, session_id)
            await db.execute(delete(SessionRow).where(SessionRow.id == session_id))
        return row

    async def _visible(self, db: AsyncSession, caller: Principal, session_id: str) -> SessionRow:
        row = await db.get(SessionRow, session_id)
        if row is None or not visible(caller, row.owner_id):
            raise not_found("session", session_id)
        return row

    # --- messages ------------------------------------------------------------------------

    async def append(
        self, caller: Principal, session_id: str, message: schemas.MessageCreate
    ) -> MessageRow:
        """Store one turn at the end of the session; 404 if the caller may not see it."""
        size = len(message.content.encode())
        if size > self._max_bytes:
            raise PayloadTooLargeError(
                f"The message is {size} bytes; the limit is {self._max_bytes}.",
                param="content",
                code="message_too_large",
            )
        row = MessageRow(
            id=new_id("msg"),
            session_id=session_id,
            role=message.role,
            name=message.name,
            content=message.content,
            metadata_=message.metadata,
            occurred_at=message.occurred_at,
            created_at=utcnow(),
        )
        for _ in range(_APPEND_RETRIES):
            try:
                position = await self._insert(caller, row)
            except IntegrityError:
                continue  # a concurrent append took this position (or the session went)
            if position is None:  # the retries above cover appends racing on other replicas
                raise not_found("session", session_id)
            row.position = position
            self.on_append(session_id)
            return row
        raise ConflictError("The session is being written too fast; retry the append.")

    async def _insert(self, caller: Principal, row: MessageRow) -> int | None:
        params = {
            "id": row.id,
            "session_id": row.session_id,
            "owner_id": caller.id,
            "role": row.role,
            "name": row.name,
            "content": row.content,
            "metadata": row.metadata_,
            "occurred_at": row.occurred_at,
            "created_at": row.created_at,
        }
        statement = _APPEND_ANY if caller.is_admin else _APPEND_OWN
        async with self.writers.append(row.session_id), self._engine.begin() as connection:
            return (await connection.execute(statement, params)).scalar_one_or_none()

    async def messages(
        self,
        caller: Principal,
        session_id: str,
        *,
        limit: int,
        after: int | None = None,
        before: int | None = None,
        last: int | None = None,
    ) -> tuple[list[MessageRow], bool]:
        """A page of turns, oldest first: after/before a position, or the last N."""
        query = select(MessageRow).where(MessageRow.session_id == session_id)
        if after is not None:
            query = query.where(MessageRow.position > after)
        if before is not None:
            query = query.where(MessageRow.position < before)
        newest_first = last is not None or (before is not None and after is None)
        count = last if last is not None else limit
        order = MessageRow.position.desc() if newest_first else MessageRow.position.asc()
        async with self._sessions() as db:
            await self._visible(db, caller, session_id)
            rows = list((await db.scalars(query.order_by(order).limit(count + 1))).all())
        more = len(rows) > count
        rows = rows[:count]
        if newest_first:
            rows.reverse()
        return rows, more

    async def turns(self, session_id: str, after: int, limit: int) -> list[MessageRow]:
        """Turns after a position, for the worker (no caller: it acts for the owner)."""
        query = (
            select(MessageRow)
            .where(MessageRow.session_id == session_id, MessageRow.position > after)
            .order_by(MessageRow.position)
            .limit(limit)
        )
        async with self._sessions() as db:
            return list((await db.scalars(query)).all())

    async def turns_before(self, session_id: str, position: int, count: int) -> list[MessageRow]:
        if count < 1:
            return []
        query = (
            select(MessageRow)
            .where(MessageRow.session_id == session_id, MessageRow.position < position)
            .order_by(MessageRow.position.desc())
            .limit(count)
        )
        async with self._sessions() as db:
            rows = list((await db.scalars(query)).all())
        rows.reverse()
        return rows

    # --- housekeeping --------------------------------------------------------------------

    async def expired(self, retention: timedelta, limit: int = 500) -> list[SessionRow]:
        """Sessions created before the cutoff with no turn stored since."""
        cutoff = utcnow() - retention
        recent = (
            select(MessageRow.id)
            .where(MessageRow.session_id == SessionRow.id, MessageRow.created_at >= cutoff)
            .exists()
        )
        query = select(SessionRow).where(SessionRow.created_at < cutoff, ~recent).limit(limit)
        async with self._sessions() as db:
            return list((await db.scalars(query)).all())

    async def remove(self, session_ids: Sequence[str]) -> None:
        if session_ids:
            async with self._sessions() as db, db.begin():
                await db.execute(delete(SessionRow).where(SessionRow.id.in_(list(session_ids))))

    async def lagging(
        self, *, since: datetime | None, until: datetime, extraction: bool, limit: int = 1000
    ) -> list[str]:
        """Sessions with turns stored in [since, until) that the worker has not indexed (or,
        with ``extraction``, not extracted) yet: turns another replica took, or a crash left."""
        behind = MessageRow.position > ExtractionRow.indexed_through
        if extraction:
            behind = or_(behind, MessageRow.position > ExtractionRow.extracted_through)
        query = (
            select(MessageRow.session_id)
            .join(ExtractionRow, ExtractionRow.session_id == MessageRow.session_id)
            .where(MessageRow.created_at < until, behind)
            .distinct()
            .limit(limit)
        )
        if since is not None:
            query = query.where(MessageRow.created_at >= since)
        async with self._sessions() as db:
            return list((await db.scalars(query)).all())

    async def unindexed(self, owner_id: str, limit: int) -> list[tuple[SessionRow, MessageRow]]:
        """The owner's newest turns (at most ``limit``) the worker has not indexed yet, each
        with its session (see :mod:`.unindexed`)."""
        query = (
            select(SessionRow, MessageRow)
            .join(ExtractionRow, ExtractionRow.session_id == SessionRow.id)
            .join(
                MessageRow,
                and_(
                    MessageRow.session_id == SessionRow.id,
                    MessageRow.position > ExtractionRow.indexed_through,
                ),
            )
            .where(SessionRow.owner_id == owner_id)
            .order_by(MessageRow.created_at.desc())
            .limit(limit)
        )
        async with self._sessions() as db:
            return [(session, turn) for session, turn in (await db.execute(query)).all()]

    async def progress(self, caller: Principal, session_id: str) -> tuple[ExtractionRow, int]:
        """The session's worker progress and the position of its latest turn."""
        async with self._sessions() as db:
            await self._visible(db, caller, session_id)
            row = await db.get(ExtractionRow, session_id)
            last = await db.scalar(
                select(func.coalesce(func.max(MessageRow.position), 0)).where(
                    MessageRow.session_id == session_id
                )
            )
        if row is None:
            raise not_found("session", session_id)
        return row, int(last or 0)

    async def owned_messages(
        self, owner_id: str, message_ids: Sequence[str]
    ) -> dict[str, tuple[MessageRow, str]]:
        """The owner's turns among these ids, each with its session's agent."""
        if not message_ids:
            return {}
        query = (
            select(MessageRow, SessionRow.agent_id)
            .join(SessionRow, SessionRow.id == MessageRow.session_id)
            .where(MessageRow.id.in_(list(message_ids)), SessionRow.owner_id == owner_id)
        )
        async with self._sessions() as db:
            return {row.id: (row, agent_id) for row, agent_id in (await db.execute(query)).all()}
