"""The in-memory backend: everything in this process, nothing persisted.

It ranks exactly as the SQLite backend does (the same :class:`HybridIndex`) and filters with
the grammar's Python predicate, so it is both a fast backend for tests and demos and the
reference the other backends are checked against.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from agentic_platform.search.backends.base import IndexRecord, SearchHit, SearchQuery
from agentic_platform.search.filters import Filter, to_predicate
from agentic_platform.search.fusion import FusionParameters
from agentic_platform.search.index import HybridIndex
from agentic_platform.search.lexical import BM25Parameters


class MemorySearchBackend:
    """A :class:`~.base.SearchBackend` that keeps every collection in this process."""

    embeds_queries = False

    def __init__(
        self, bm25: BM25Parameters | None = None, fusion: FusionParameters | None = None
    ) -> None:
        self._bm25 = bm25
        self._fusion = fusion
        self._indexes: dict[str, HybridIndex] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _lock(self, collection: str) -> asyncio.Lock:
        return self._locks.setdefault(collection, asyncio.Lock())

    async def upsert(self, collection: str, records: Sequence[IndexRecord]) -> None:
        async with self._lock(collection):
            index = self._indexes.get(collection)
            if index is None:
                index = self._indexes[collection] = HybridIndex(self._bm25, self._fusion)
            index.add(records)

    async def delete(
        self, collection: str, *, ids: Sequence[str] | None = None, where: Filter | None = None
    ) -> int:
        async with self._lock(collection):
            index = self._indexes.get(collection)
            if index is None:
                return 0
            chosen = list(index.rows) if ids is None else [i for i in ids if i in index.rows]
            if where is not None:
                matching = set(index.ids_matching(to_predicate(where)))
                chosen = [record_id for record_id in chosen if record_id in matching]
            removed = index.remove(chosen)
            self._indexes[collection] = index.compacted()
            return removed

    async def search(self, collection: str, query: SearchQuery) -> list[SearchHit]:
        async with self._lock(collection):
            index = self._indexes.get(collection)
            if index is None:
                return []
            eligible = None
            if query.filter is not None:
                eligible = index.mask_of(index.ids_matching(to_predicate(query.filter)))
            return index.rank(
                query.mode,
                query.text,
                query.vector,
                query.top_k,
                eligible=eligible,
                min_score=query.min_score,
            )

    async def fetch(self, collection: str, ids: Sequence[str]) -> list[SearchHit]:
        async with self._lock(collection):
            index = self._indexes.get(collection)
            return [] if index is None else index.fetch(ids)

    async def drop(self, collection: str) -> None:
        async with self._lock(collection):
            self._indexes.pop(collection, None)

    async def aclose(self) -> None:
        self._indexes.clear()
