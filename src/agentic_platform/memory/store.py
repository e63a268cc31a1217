"""Long-term memories in the database: write, read, list, change, delete, with their sources.

The database is the truth; the search index is derived from it. A write commits the memory
with ``indexed = false`` and the index catches up (at once for API writes, else through the
worker), so a crash between the two never loses a memory from search for good. Duplicates are
refused by a hash of the normalised text per owner and agent.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentic_platform.auth.keys import new_id
from agentic_platform.auth.models import PrincipalRow
from agentic_platform.auth.principal import Principal
from agentic_platform.db.base import utcnow
from agentic_platform.errors import InvalidRequestError, NotFoundError
from agentic_platform.memory import schemas
from agentic_platform.memory.access import not_found, owner_for, visible
from agentic_platform.memory.models import MemoryRow, MemorySourceRow, MessageRow, SessionRow

_SPACES = re.compile(r"\s+")


def content_hash(text: str) -> str:
    """The same memory said with other case, spacing or a final full stop hashes the same."""
    normal = _SPACES.sub(" ", text.strip().lower()).rstrip(" .!")
    return hashlib.sha256(normal.encode()).hexdigest()


@dataclass
class Memory:
    """A memory row with its source rows."""

    row: MemoryRow
    sources: list[MemorySourceRow] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Source:
    message_id: str
    session_id: str
    position: int


def new_memory(
    owner_id: str,
    team_id: str,
    *,
    text: str,
    type: str,
    origin: str,
    agent_id: str | None,
    session_id: str | None = None,
    occurred_at: datetime | None = None,
    metadata: dict[str, Any] | None = None,
) -> MemoryRow:
    now = utcnow()
    return MemoryRow(
        id=new_id("mem"),
        owner_id=owner_id,
        team_id=team_id,
        agent_id=agent_id,
        session_id=session_id,
        type=type,
        text=text,
        content_hash=content_hash(text),
        occurred_at=occurred_at,
        metadata_=metadata or {},
        origin=origin,
        indexed=False,
        created_at=now,
        updated_at=now,
    )


def source_rows(memory_id: str, sources: Iterable[Source]) -> list[MemorySourceRow]:
    unique = {source.message_id: source for source in sources}
    return [
        MemorySourceRow(
            memory_id=memory_id,
            message_id=s.message_id,
            session_id=s.session_id,
            position=s.position,
        )
        for s in unique.values()
    ]


async def find_duplicate(
    db: AsyncSession, owner_id: str, agent_id: str | None, text: str
) -> MemoryRow | None:
    query = select(MemoryRow).where(
        MemoryRow.owner_id == owner_id,
        MemoryRow.content_hash == content_hash(text),
        MemoryRow.agent_id.is_(None) if agent_id is None else MemoryRow.agent_id == agent_id,
    )
    return (await db.scalars(query.limit(1))).first()


async def sources_of(
    db: AsyncSession, memory_ids: Sequence[str]
) -> dict[str, list[MemorySourceRow]]:
    found: dict[str, list[MemorySourceRow]] = {memory_id: [] for memory_id in memory_ids}
    if memory_ids:
        query = select(MemorySourceRow).where(MemorySourceRow.memory_id.in_(list(memory_ids)))
        for row in await db.scalars(query.order_by(MemorySourceRow.position)):
            found[row.memory_id].append(row)
    return found


async def mark_indexed(
    sessions: async_sessionmaker[AsyncSession], rows: Sequence[MemoryRow]
) -> None:
    """Marks rows indexed unless they changed since they were read (then the worker's sweep
    indexes them again)."""
    if not rows:
        return
    async with sessions() as db, db.begin():
        for row in rows:
            await db.execute(
                update(MemoryRow)
                .where(MemoryRow.id == row.id, MemoryRow.updated_at == row.updated_at)
                .values(indexed=True)
            )


class MemoryStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        return self._sessions

    async def create(self, caller: Principal, spec: schemas.MemoryCreate) -> tuple[Memory, bool]:
        """Store a memory; an identical one already stored is returned instead (False)."""
        owner_id = owner_for(caller, spec.user_id)
        async with self._sessions() as db, db.begin():
            owner = await db.get(PrincipalRow, owner_id)
            if owner is None:
                raise NotFoundError(f"No user '{owner_id}'.", param="user_id")
            existing = await find_duplicate(db, owner_id, spec.agent_id, spec.text)
            if existing is not None:
                return Memory(existing, (await sources_of(db, [existing.id]))[existing.id]), False
            sources = await self._owned_sources(db, owner_id, spec.source_message_ids)
            row = new_memory(
                owner_id,
                owner.team_id,
                text=spec.text,
                type=spec.type,
                origin="direct",
                agent_id=spec.agent_id,
                session_id=sources[0].session_id if sources else None,
                occurred_at=spec.occurred_at,
                metadata=spec.metadata,
            )
            db.add(row)
            await db.flush()
            links = source_rows(row.id, sources)
            db.add_all(links)
        return Memory(row, links), True

    async def _owned_sources(
        self, db: AsyncSession, owner_id: str, message_ids: Sequence[str]
    ) -> list[Source]:
        """The named turns, which must all be in the owner's sessions."""
        if not message_ids:
            return []
        query = (
            select(MessageRow.id, MessageRow.session_id, MessageRow.position)
            .join(SessionRow, SessionRow.id == MessageRow.session_id)
            .where(MessageRow.id.in_(list(message_ids)), SessionRow.owner_id == owner_id)
        )
        found = {
            row.id: Source(row.id, row.session_id, row.position) for row in await db.execute(query)
        }
        missing = [message_id for message_id in message_ids if message_id not in found]
        if missing:
            raise InvalidRequestError(
                f"Unknown source message(s): {', '.join(missing[:5])}.",
                param="source_message_ids",
                code="unknown_message",
            )
        return [found[message_id] for message_id in message_ids]

    async def get(self, caller: Principal, memory_id: str) -> Memory:
        async with self._sessions() as db:
            row = await self._visible(db, caller, memory_id)
            return Memory(row, (await sources_of(db, [row.id]))[row.id])

    async def page(
        self,
        caller: Principal,
        *,
        user_id: str | None,
        agent_id: str | None,
        type: str | None,
        session_id: str | None,
        limit: int,
        offset: int,
    ) -> tuple[list[Memory], bool]:
        """Most recently changed first."""
        query = select(MemoryRow).where(MemoryRow.owner_id == owner_for(caller, user_id))
        for column, value in (
            (MemoryRow.agent_id, agent_id),
            (MemoryRow.type, type),
            (MemoryRow.session_id, session_id),
        ):
            if value is not None:
                query = query.where(column == value)
        query = query.order_by(MemoryRow.updated_at.desc(), MemoryRow.id.desc())
        async with self._sessions() as db:
            rows = list((await db.scalars(query.offset(offset).limit(limit + 1))).all())
            sources = await sources_of(db, [row.id for row in rows[:limit]])
        return [Memory(row, sources[row.id]) for row in rows[:limit]], len(rows) > limit

    async def update(
        self, caller: Principal, memory_id: str, change: schemas.MemoryUpdate
    ) -> Memory:
        fields = change.model_dump(exclude_unset=True)
        async with self._sessions() as db, db.begin():
            row = await self._visible(db, caller, memory_id)
            for name, value in fields.items():
                setattr(row, "metadata_" if name == "metadata" else name, value)
            if "text" in fields:
                row.content_hash = content_hash(row.text)
            row.indexed = False
            row.updated_at = utcnow()
            sources = (await sources_of(db, [row.id]))[row.id]
        return Memory(row, sources)

    async def delete(self, caller: Principal, memory_id: str) -> MemoryRow:
        async with self._sessions() as db, db.begin():
            row = await self._visible(db, caller, memory_id)
            await db.execute(delete(MemoryRow).where(MemoryRow.id == memory_id))
        return row

    async def delete_from_session(self, session_id: str) -> list[MemoryRow]:
        async with self._sessions() as db, db.begin():
            rows = list(
                await db.scalars(select(MemoryRow).where(MemoryRow.session_id == session_id))
            )
            await db.execute(delete(MemoryRow).where(MemoryRow.session_id == session_id))
        return rows

    async def _visible(self, db: AsyncSession, caller: Principal, memory_id: str) -> MemoryRow:
        row = await db.get(MemoryRow, memory_id)
        if row is None or not visible(caller, row.owner_id):
            raise not_found("memory", memory_id)
        return row

    # --- for the index -------------------------------------------------------------------

    async def owned(self, owner_id: str, memory_ids: Sequence[str]) -> dict[str, Memory]:
        """The owner's memories among these ids, with sources (others' ids are ignored)."""
        if not memory_ids:
            return {}
        query = select(MemoryRow).where(
            MemoryRow.id.in_(list(memory_ids)), MemoryRow.owner_id == owner_id
        )
        async with self._sessions() as db:
            rows = list((await db.scalars(query)).all())
            sources = await sources_of(db, [row.id for row in rows])
        return {row.id: Memory(row, sources[row.id]) for row in rows}

    async def unindexed(self, limit: int) -> list[MemoryRow]:
        query = select(MemoryRow).where(MemoryRow.indexed.is_(False)).limit(limit)
        async with self._sessions() as db:
            return list((await db.scalars(query)).all())
