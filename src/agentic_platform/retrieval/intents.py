"""Write intents: what a crash may leave in a search backend, and how it is removed.

A search backend and the platform database cannot commit together, so a document's chunks
are written under a fresh *generation* (chunk ids ``<document id>:<position>#<generation>``)
and only become content when the document row naming that generation commits; searches
drop every hit whose generation is not its document's committed one. Before the chunks are
written, a ``writing`` intent is committed; the document row commits in the same transaction
that deletes it. Whatever is left over — the chunks of a write that never committed, the
previous generation of a replaced document, a deleted document's or knowledge base's chunks
— is named by an ``obsolete`` intent, and :meth:`WriteIntents.sweep` deletes it from the
backend (idempotently: a sweep interrupted by a crash is simply repeated).

A ``writing`` intent that outlives ``retrieval.job_lease_seconds`` (its writer crashed, or is
too slow) may be claimed by any replica's sweep, atomically; the write can then no longer
commit and fails with a ``write_expired`` error, so a sweep never deletes chunks a document
row is about to name.
"""

from __future__ import annotations

import logging
import secrets
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentic_platform.auth.keys import new_id
from agentic_platform.db.base import utcnow
from agentic_platform.errors import ConflictError
from agentic_platform.retrieval.backends import KnowledgeBaseBackends
from agentic_platform.retrieval.models import DocumentRow, KnowledgeBaseRow, WriteIntentRow

logger = logging.getLogger("agentic_platform.retrieval")

WRITING = "writing"
OBSOLETE = "obsolete"


def new_generation() -> str:
    return secrets.token_hex(6)


def chunk_id(document_id: str, position: int, generation: str) -> str:
    """A chunk's id in the search backend (chunks written before generations have none)."""
    base = f"{document_id}:{position}"
    return f"{base}#{generation}" if generation else base


@dataclass(frozen=True, slots=True)
class ChunkSet:
    """The chunks one write of one document puts in the backend."""

    document_id: str
    generation: str
    chunk_count: int


class WriteIntents:
    """Records chunks that are not (or not yet) committed content, and removes them."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        backends: KnowledgeBaseBackends,
        lease_seconds: float,
    ) -> None:
        self._sessions = sessions
        self._backends = backends
        self._lease = timedelta(seconds=lease_seconds)

    async def begin(self, kb: KnowledgeBaseRow, chunk_sets: Sequence[ChunkSet]) -> list[str]:
        """Commit ``writing`` intents before the chunks go to the backend; returns their ids."""
        rows = [self._row(kb, chunks, WRITING) for chunks in chunk_sets]
        async with self._sessions.begin() as session:
            session.add_all(rows)
        return [row.id for row in rows]

    async def commit(self, session: AsyncSession, intent_ids: Sequence[str]) -> None:
        """Within the transaction that saves the document rows: end the write's intents, or
        refuse (rolling the transaction back) if a sweep has claimed them."""
        ended = await session.execute(
            delete(WriteIntentRow).where(
                WriteIntentRow.id.in_(intent_ids), WriteIntentRow.state == WRITING
            )
        )
        if ended.rowcount != len(intent_ids):  # type: ignore[attr-defined]
            raise ConflictError(
                "Writing the document took longer than retrieval.job_lease_seconds and was "
                "rolled back; ingest it again.",
                code="write_expired",
            )

    def obsolete(
        self, session: AsyncSession, kb: KnowledgeBaseRow, chunk_sets: Iterable[ChunkSet]
    ) -> None:
        """Within a transaction that stops chunks being content: mark them for removal."""
        session.add_all(self._row(kb, chunks, OBSOLETE) for chunks in chunk_sets)

    def obsolete_collection(self, session: AsyncSession, kb: KnowledgeBaseRow) -> None:
        """Within the transaction that deletes a knowledge base: drop its collection later."""
        session.add(self._row(kb, None, OBSOLETE))

    async def abandon(
        self, kb: KnowledgeBaseRow, chunk_sets: Sequence[ChunkSet], intent_ids: Sequence[str]
    ) -> None:
        """A write that failed: its chunks are to be removed, unless a document row names
        them after all. New obsolete intents, not the old ones: a sweep may have claimed and
        settled those while the write was still putting chunks in the backend."""
        async with self._sessions.begin() as session:
            committed = dict(
                (
                    await session.execute(
                        select(DocumentRow.id, DocumentRow.generation).where(
                            DocumentRow.kb_id == kb.id,
                            DocumentRow.id.in_([chunks.document_id for chunks in chunk_sets]),
                        )
                    )
                ).all()
            )
            await session.execute(delete(WriteIntentRow).where(WriteIntentRow.id.in_(intent_ids)))
            self.obsolete(
                session,
                kb,
                [c for c in chunk_sets if committed.get(c.document_id) != c.generation],
            )

    def _row(self, kb: KnowledgeBaseRow, chunks: ChunkSet | None, state: str) -> WriteIntentRow:
        now = utcnow()
        return WriteIntentRow(
            id=new_id("wi"),
            kb_id=kb.id,
            backend=kb.backend,
            collection=kb.collection,
            document_id=chunks.document_id if chunks else None,
            generation=chunks.generation if chunks else "",
            chunk_count=chunks.chunk_count if chunks else 0,
            state=state,
            expires_at=now + self._lease,
            created_at=now,
        )

    async def tidy(self, kb_id: str) -> None:
        """Sweep one knowledge base right after a change, if the database lets us; what is
        left is swept by the next heartbeat or start."""
        try:
            await self.sweep(kb_id)
        except Exception:
            logger.exception("sweeping leftover chunks failed", extra={"kb_id": kb_id})

    async def sweep(self, kb_id: str | None = None) -> int:
        """Claim expired ``writing`` intents, then remove every obsolete one's chunks (of
        one knowledge base, or all). Returns how many intents were settled; a backend that
        fails keeps its intents for the next sweep."""
        async with self._sessions.begin() as session:
            scope = [] if kb_id is None else [WriteIntentRow.kb_id == kb_id]
            await session.execute(
                update(WriteIntentRow)
                .where(
                    WriteIntentRow.state == WRITING, WriteIntentRow.expires_at < utcnow(), *scope
                )
                .values(state=OBSOLETE)
            )
            rows = (
                await session.execute(
                    select(WriteIntentRow)
                    .where(WriteIntentRow.state == OBSOLETE, *scope)
                    .order_by(WriteIntentRow.created_at)
                    .limit(1000)
                )
            ).scalars()
            grouped: dict[tuple[str, str], list[WriteIntentRow]] = defaultdict(list)
            for row in rows:
                grouped[(row.backend, row.collection)].append(row)
        settled = 0
        for (backend, collection), intents in grouped.items():
            try:
                await self._remove(backend, collection, intents)
            except Exception:
                logger.exception(
                    "could not remove leftover chunks; retried at the next sweep",
                    extra={"backend": backend, "collection": collection},
                )
                continue
            async with self._sessions.begin() as session:
                await session.execute(
                    delete(WriteIntentRow).where(WriteIntentRow.id.in_([i.id for i in intents]))
                )
            settled += len(intents)
        return settled

    async def _remove(self, backend: str, collection: str, intents: list[WriteIntentRow]) -> None:
        search = self._backends.get(backend)
        if any(intent.document_id is None for intent in intents):
            await search.drop(collection)
            return
        ids = [
            chunk_id(intent.document_id, position, intent.generation)
            for intent in intents
            if intent.document_id is not None
            for position in range(intent.chunk_count)
        ]
        if ids:
            await search.delete(collection, ids=ids)
