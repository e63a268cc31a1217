"""The embedded backend: records in the platform's SQLite database, ranked in memory.

Records persist in ``search_records`` (created by the platform's migrations); the first
search of a collection loads its vectors and texts into a :class:`HybridIndex` that every
later write updates, so a search costs a matrix-vector product, a few postings lookups and
no query at all. Filters run as SQL over the JSON metadata column.

The index of one collection is guarded by one lock: writes and searches of a collection take
turns (ranking a 100,000-record collection takes milliseconds), different collections do not
wait for each other. The index also keeps each record's text, metadata and payload, so a
search answers from memory. One process owns the file: this backend is for one replica.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
from sqlalchemy import Table, delete, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from agentic_platform.errors import ConfigurationError
from agentic_platform.search.backends.base import IndexRecord, SearchHit, SearchQuery, Vector
from agentic_platform.search.filters import Filter, to_sqlite
from agentic_platform.search.fusion import FusionParameters
from agentic_platform.search.index import HybridIndex
from agentic_platform.search.lexical import BM25Parameters
from agentic_platform.search.models import SearchRecordRow

INLINE_RANKING_ROWS = 20_000
"""Smaller collections rank on the event loop (about a millisecond); larger ones in a thread."""
_TABLE = cast(Table, SearchRecordRow.__table__)
_IDS_PER_QUERY = 500


def _vector_bytes(vector: Vector) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


class SqliteSearchBackend:
    """A :class:`~.base.SearchBackend` persisted in the platform's SQLite database."""

    embeds_queries = False

    def __init__(
        self,
        engine: AsyncEngine,
        bm25: BM25Parameters | None = None,
        fusion: FusionParameters | None = None,
    ) -> None:
        if engine.dialect.name != "sqlite":
            raise ConfigurationError(
                "the sqlite search backend keeps its records in the platform database, which "
                "is not SQLite here: use the pgvector backend (retrieval.pgvector_url)"
            )
        self._engine = engine
        self._bm25 = bm25
        self._fusion = fusion
        self._indexes: dict[str, HybridIndex] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _lock(self, collection: str) -> asyncio.Lock:
        lock = self._locks.get(collection)
        if lock is None:
            lock = self._locks[collection] = asyncio.Lock()
        return lock

    async def _index(self, collection: str) -> HybridIndex:
        """The collection's index, loaded on first use (the caller holds its lock)."""
        index = self._indexes.get(collection)
        if index is None:
            async with self._engine.connect() as connection:
                rows = (
                    await connection.execute(
                        select(_TABLE).where(_TABLE.c.collection == collection)
                    )
                ).all()
            index = await asyncio.to_thread(self._build, rows)
            self._indexes[collection] = index
        return index

    def _build(self, rows: Sequence[Any]) -> HybridIndex:
        index = HybridIndex(self._bm25, self._fusion)
        index.add(
            [
                IndexRecord(
                    id=row.id,
                    text=row.text,
                    vector=np.frombuffer(row.vector, dtype="<f4"),
                    metadata=row.metadata,
                    payload=row.payload,
                    context=row.context,
                )
                for row in rows
            ]
        )
        return index

    async def upsert(self, collection: str, records: Sequence[IndexRecord]) -> None:
        if not records:
            return
        async with self._lock(collection):
            index = await self._index(collection)
            ids = [record.id for record in records]
            async with self._engine.begin() as connection:
                await _delete_ids(connection, collection, ids)
                await connection.execute(
                    insert(_TABLE),
                    [
                        {
                            "collection": collection,
                            "id": record.id,
                            "text": record.text,
                            "context": record.context,
                            "vector": _vector_bytes(record.vector),
                            "metadata": record.metadata,
                            "payload": record.payload,
                        }
                        for record in records
                    ],
                )
            index.add(records)

    async def delete(
        self, collection: str, *, ids: Sequence[str] | None = None, where: Filter | None = None
    ) -> int:
        async with self._lock(collection):
            index = await self._index(collection)
            async with self._engine.begin() as connection:
                if where is None and ids is not None:
                    chosen = await _present_ids(connection, collection, ids)
                else:
                    chosen = await _matching_ids(connection, collection, where)
                if ids is not None:
                    wanted = set(ids)
                    chosen = [record_id for record_id in chosen if record_id in wanted]
                await _delete_ids(connection, collection, chosen)
            index.remove(chosen)
            self._indexes[collection] = index.compacted()
            return len(chosen)

    async def search(self, collection: str, query: SearchQuery) -> list[SearchHit]:
        async with self._lock(collection):
            index = await self._index(collection)
            eligible = None
            if query.filter is not None:
                async with self._engine.connect() as connection:
                    allowed = await _matching_ids(connection, collection, query.filter)
                eligible = index.mask_of(allowed)
            rank = functools.partial(
                index.rank,
                query.mode,
                query.text,
                query.vector,
                query.top_k,
                eligible=eligible,
                min_score=query.min_score,
            )
            if index.size < INLINE_RANKING_ROWS:
                return rank()
            return await asyncio.to_thread(rank)

    async def fetch(self, collection: str, ids: Sequence[str]) -> list[SearchHit]:
        async with self._lock(collection):
            return (await self._index(collection)).fetch(ids)

    async def drop(self, collection: str) -> None:
        async with self._lock(collection):
            async with self._engine.begin() as connection:
                await connection.execute(delete(_TABLE).where(_TABLE.c.collection == collection))
            self._indexes.pop(collection, None)

    async def aclose(self) -> None:
        self._indexes.clear()


async def _matching_ids(
    connection: AsyncConnection, collection: str, where: Filter | None
) -> list[str]:
    condition, params = ("1", {}) if where is None else to_sqlite(where, "metadata")
    result = await connection.execute(
        text(f"SELECT id FROM search_records WHERE collection = :collection AND {condition}"),  # noqa: S608
        {"collection": collection, **params},
    )
    return [row[0] for row in result]


async def _present_ids(
    connection: AsyncConnection, collection: str, ids: Sequence[str]
) -> list[str]:
    """Which of these ids the collection holds (without reading all of its ids)."""
    present: list[str] = []
    for start in range(0, len(ids), _IDS_PER_QUERY):
        result = await connection.execute(
            select(_TABLE.c.id).where(
                _TABLE.c.collection == collection,
                _TABLE.c.id.in_(ids[start : start + _IDS_PER_QUERY]),
            )
        )
        present.extend(row[0] for row in result)
    return present


async def _delete_ids(connection: AsyncConnection, collection: str, ids: Sequence[str]) -> None:
    for start in range(0, len(ids), _IDS_PER_QUERY):
        await connection.execute(
            delete(_TABLE).where(
                _TABLE.c.collection == collection,
                _TABLE.c.id.in_(ids[start : start + _IDS_PER_QUERY]),
            )
        )
