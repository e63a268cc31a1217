"""PostgreSQL with pgvector: the production backend for many replicas.

Each collection is a table of its own (``search_<collection>``), created on first write with
the vector dimension of its first record, an HNSW index (cosine), a GIN index over a
generated ``tsvector`` (context weighted A, text B) and a GIN index over the JSONB
metadata. Semantic search walks the HNSW index (with pgvector's iterative scan, so a
selective filter still fills ``top_k``); lexical search is PostgreSQL full text, any query
word matching, ranked by ``ts_rank_cd``; hybrid nominates candidates from both and fuses them
with the same :func:`~agentic_platform.search.fusion.fuse` as the embedded backends.

Needs the ``postgres`` extra (asyncpg) and the ``vector`` extension in the database (the
backend runs ``CREATE EXTENSION IF NOT EXISTS vector``, which needs the right to do so).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
import orjson

from agentic_platform.db.outage import is_outage
from agentic_platform.errors import ConfigurationError, DatabaseUnavailableError, PlatformError
from agentic_platform.search.backends.base import IndexRecord, SearchHit, SearchQuery, Vector
from agentic_platform.search.filters import Filter, to_postgres
from agentic_platform.search.fusion import FusionParameters, fuse

logger = logging.getLogger("agentic_platform.search")

_SAFE_NAME = re.compile(r"^[a-z0-9_]{1,40}$")


def table_name(collection: str) -> str:
    """A safe, stable table name for a collection (hashed when the name is not plain)."""
    if _SAFE_NAME.match(collection):
        return f"search_{collection}"
    return "search_" + hashlib.sha256(collection.encode()).hexdigest()[:32]


def _vector_text(vector: Vector) -> str:
    return "[" + ",".join(repr(float(value)) for value in vector) + "]"


def _parse_vector(value: str) -> list[float]:
    return [float(part) for part in value.strip("[]").split(",")] if value != "[]" else []


async def _register_codecs(connection: Any) -> None:
    await connection.set_type_codec(
        "vector", schema="public", encoder=_vector_text, decoder=_parse_vector, format="text"
    )
    await connection.set_type_codec(
        "jsonb",
        schema="pg_catalog",
        encoder=lambda v: orjson.dumps(v).decode(),
        decoder=orjson.loads,
        format="text",
    )


async def _release(pool: Any, connection: Any) -> None:
    """Give ``connection`` back. A connection the server dropped can fail its reset here
    after the work on it has completed: the pool has closed it then and opens a new one on
    the next acquire, and the finished work stands."""
    try:
        await pool.release(connection)
    except Exception as error:
        logger.info("dropped a broken database connection", extra={"error": type(error).__name__})


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


class PgVectorSearchBackend:
    """A :class:`~.base.SearchBackend` on PostgreSQL + pgvector; see the module docstring."""

    embeds_queries = False

    def __init__(
        self,
        url: str,
        fusion: FusionParameters | None = None,
        *,
        hnsw_m: int = 16,
        hnsw_ef_construction: int = 64,
        ef_search: int = 100,
        pool_size: int = 10,
    ) -> None:
        self._url = _dsn(url)
        self._fusion = fusion or FusionParameters()
        self._hnsw = (hnsw_m, hnsw_ef_construction)
        self._ef_search = ef_search
        self._pool_size = pool_size
        self._pool: Any = None
        self._tables: set[str] = set()

    async def _connection_pool(self) -> Any:
        if self._pool is None:
            try:
                import asyncpg
            except ImportError as exc:
                raise ConfigurationError(
                    "the pgvector backend needs the 'postgres' extra: "
                    "pip install 'agentic-platform[postgres]'"
                ) from exc
            first = await asyncpg.connect(self._url)
            try:
                async with first.transaction():  # replicas starting at once: one creates it
                    await first.execute("SELECT pg_advisory_xact_lock(hashtext('vector'))")
                    await first.execute("CREATE EXTENSION IF NOT EXISTS vector")
            finally:
                await first.close()
            self._pool = await asyncpg.create_pool(
                self._url, min_size=1, max_size=self._pool_size, init=_register_codecs
            )
        return self._pool

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        """A pooled connection; an unreachable server, or a connection lost on the way, raises
        :class:`DatabaseUnavailableError`. The pool replaces closed connections on acquire,
        so the backend works again once the server is back.

        Any failure to hand out a connection counts as unavailability (as the engine's
        connect does): a server shutting down can break a connection while it is being set
        up in ways no error class names (asyncpg's "another operation is in progress")."""
        try:
            pool = await self._connection_pool()
            connection = await pool.acquire()
        except PlatformError:
            raise
        except Exception as error:
            raise DatabaseUnavailableError() from error
        try:
            yield connection
        except Exception as error:
            if is_outage(error):
                raise DatabaseUnavailableError() from error
            raise
        finally:
            await _release(pool, connection)

    async def _exists(self, connection: Any, table: str) -> bool:
        if table in self._tables:
            return True
        found = await connection.fetchval("SELECT to_regclass($1) IS NOT NULL", table)
        if found:
            self._tables.add(table)
        return bool(found)

    async def _create(self, connection: Any, table: str, dimensions: int) -> None:
        m, ef_construction = self._hnsw
        async with connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock(hashtext($1))", table)
            await connection.execute(
                f"""CREATE TABLE IF NOT EXISTS {table} (
                    id text PRIMARY KEY,
                    text text NOT NULL,
                    context text NOT NULL DEFAULT '',
                    embedding vector({dimensions}) NOT NULL,
                    metadata jsonb NOT NULL DEFAULT '{{}}',
                    payload jsonb NOT NULL DEFAULT '{{}}',
                    lexemes tsvector GENERATED ALWAYS AS (
                        setweight(to_tsvector('english', context), 'A')
                        || setweight(to_tsvector('english', text), 'B')) STORED)"""
            )
            await connection.execute(
                f"CREATE INDEX IF NOT EXISTS {table}_hnsw ON {table} USING hnsw "
                f"(embedding vector_cosine_ops) WITH (m = {m}, ef_construction = {ef_construction})"
            )
            await connection.execute(
                f"CREATE INDEX IF NOT EXISTS {table}_lexemes ON {table} USING gin (lexemes)"
            )
            await connection.execute(
                f"CREATE INDEX IF NOT EXISTS {table}_metadata ON {table} "
                "USING gin (metadata jsonb_path_ops)"
            )
        self._tables.add(table)

    async def upsert(self, collection: str, records: Sequence[IndexRecord]) -> None:
        if not records:
            return
        table = table_name(collection)
        async with self._connection() as connection:
            if not await self._exists(connection, table):
                await self._create(connection, table, len(records[0].vector))
            await connection.executemany(
                f"""INSERT INTO {table} (id, text, context, embedding, metadata, payload)
                    VALUES ($1, $2, $3, $4, $5, $6)
                    ON CONFLICT (id) DO UPDATE SET text = EXCLUDED.text,
                        context = EXCLUDED.context, embedding = EXCLUDED.embedding,
                        metadata = EXCLUDED.metadata, payload = EXCLUDED.payload""",  # noqa: S608
                [(r.id, r.text, r.context, list(r.vector), r.metadata, r.payload) for r in records],
            )

    async def delete(
        self, collection: str, *, ids: Sequence[str] | None = None, where: Filter | None = None
    ) -> int:
        table = table_name(collection)
        async with self._connection() as connection:
            if not await self._exists(connection, table):
                return 0
            conditions, params = ["TRUE"], []
            if ids is not None:
                params.append(list(ids))
                conditions.append("id = ANY($1::text[])")
            if where is not None:
                sql, where_params = to_postgres(where, "metadata", len(params) + 1)
                conditions.append(sql)
                params.extend(where_params)
            status = await connection.execute(
                f"DELETE FROM {table} WHERE {' AND '.join(conditions)}",  # noqa: S608
                *params,
            )
            return int(status.split()[-1])

    async def search(self, collection: str, query: SearchQuery) -> list[SearchHit]:
        table = table_name(collection)
        async with self._connection() as connection:
            if not await self._exists(connection, table):
                return []
            async with connection.transaction():
                await connection.execute(
                    f"SET LOCAL hnsw.ef_search = {max(self._ef_search, query.top_k)}"
                )
                await connection.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
                return await self._search(connection, table, query)

    async def _search(self, connection: Any, table: str, query: SearchQuery) -> list[SearchHit]:
        if query.mode == "lexical":
            scored = await self._lexical(connection, table, query, query.top_k)
        elif query.vector is None:
            raise ValueError(f"{query.mode} search needs a query vector")
        elif query.mode == "semantic":
            scored = await self._semantic(connection, table, query, query.top_k)
        else:
            scored = await self._hybrid(connection, table, query)
        if query.min_score is not None:
            scored = [(i, s) for i, s in scored if s >= query.min_score]
        return await self._hits(connection, table, scored[: query.top_k])

    def _filter(self, query: SearchQuery, first: int) -> tuple[str, list[Any]]:
        if query.filter is None:
            return "TRUE", []
        return to_postgres(query.filter, "metadata", first)

    async def _semantic(
        self, connection: Any, table: str, query: SearchQuery, limit: int
    ) -> list[tuple[str, float]]:
        condition, params = self._filter(query, 3)
        rows = await connection.fetch(
            f"""SELECT id, 1 - (embedding <=> $1) AS score FROM {table}
                WHERE {condition} ORDER BY embedding <=> $1 LIMIT $2""",  # noqa: S608
            query.vector,
            limit,
            *params,
        )
        return [(row["id"], float(row["score"])) for row in rows]

    async def _lexical(
        self, connection: Any, table: str, query: SearchQuery, limit: int
    ) -> list[tuple[str, float]]:
        condition, params = self._filter(query, 3)
        rows = await connection.fetch(
            f"""SELECT id, ts_rank_cd(lexemes, q.query) AS score
                FROM {table}, {_ANY_WORD} AS q
                WHERE lexemes @@ q.query AND {condition}
                ORDER BY score DESC, id LIMIT $2""",  # noqa: S608
            query.text,
            limit,
            *params,
        )
        return [(row["id"], float(row["score"])) for row in rows]

    async def _hybrid(
        self, connection: Any, table: str, query: SearchQuery
    ) -> list[tuple[str, float]]:
        depth = max(self._fusion.candidates, query.top_k)
        nominated = {i for i, _ in await self._semantic(connection, table, query, depth)}
        nominated |= {i for i, _ in await self._lexical(connection, table, query, depth)}
        if not nominated:
            return []
        rows = await connection.fetch(
            f"""SELECT id, 1 - (embedding <=> $1) AS semantic,
                    COALESCE(ts_rank_cd(lexemes, q.query), 0) AS lexical
                FROM {table}, {_ANY_WORD.replace("$1", "$2")} AS q
                WHERE id = ANY($3::text[])""",  # noqa: S608
            query.vector,
            query.text,
            sorted(nominated),
        )
        ids = [row["id"] for row in rows]
        semantic = np.array([row["semantic"] for row in rows], dtype=np.float32)
        lexical = np.array([row["lexical"] for row in rows], dtype=np.float32)
        fused = fuse(semantic, lexical, self._fusion)
        order = np.argsort(-fused, kind="stable")
        return [(ids[i], float(fused[i])) for i in order]

    async def _hits(
        self, connection: Any, table: str, scored: list[tuple[str, float]]
    ) -> list[SearchHit]:
        if not scored:
            return []
        rows = await connection.fetch(
            f"SELECT id, text, metadata, payload FROM {table} WHERE id = ANY($1::text[])",  # noqa: S608
            [record_id for record_id, _ in scored],
        )
        found = {row["id"]: row for row in rows}
        return [
            SearchHit(i, s, found[i]["text"], found[i]["metadata"], found[i]["payload"])
            for i, s in scored
            if i in found
        ]

    async def fetch(self, collection: str, ids: Sequence[str]) -> list[SearchHit]:
        table = table_name(collection)
        async with self._connection() as connection:
            if not ids or not await self._exists(connection, table):
                return []
            return await self._hits(connection, table, [(record_id, 0.0) for record_id in ids])

    async def drop(self, collection: str) -> None:
        table = table_name(collection)
        async with self._connection() as connection:
            await connection.execute(f"DROP TABLE IF EXISTS {table}")
        self._tables.discard(table)

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


# Any word of the query may match (PostgreSQL's own parsers AND them together).
_ANY_WORD = "(SELECT replace(plainto_tsquery('english', $1)::text, ' & ', ' | ')::tsquery AS query)"
