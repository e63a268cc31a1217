"""``python -m bench.retrieval.tune``: choose the BM25 and fusion parameters on SciFact's
*train* split, then report the chosen setting once on the test split.

It reads the chunks (texts, contexts, vectors) that ``python -m bench.retrieval`` ingested
into ``bench/results/retrieval-data`` and embeds the queries with the packaged embedder, then
ranks in this process with the same code the embedded backend uses, for every setting of the
grid. The winner is what ships as the defaults of ``BM25Parameters`` and ``FusionParameters``.
"""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import statistics
from pathlib import Path

import numpy as np

from agentic_platform.search.backends.base import IndexRecord
from agentic_platform.search.fusion import FusionParameters, fuse
from agentic_platform.search.index import HybridIndex
from agentic_platform.search.lexical import BM25Parameters
from bench.retrieval.scifact import SciFact, documents_in_order, ndcg_at, recall_at

DATA = Path(__file__).resolve().parents[1] / "results" / "retrieval-data" / "agentic.db"
K1 = (0.9, 1.2)
B = (0.4, 0.75)
CONTEXT_WEIGHTS = (1.0, 2.0)
SEMANTIC_WEIGHTS = tuple(round(w, 2) for w in np.arange(0.5, 0.81, 0.05))


def _records(database: Path) -> tuple[list[IndexRecord], list[str]]:
    connection = sqlite3.connect(database)
    rows = connection.execute(
        "SELECT r.id, r.text, r.context, r.vector, json_extract(r.metadata, '$.document_id') "
        "FROM search_records r JOIN knowledge_bases k ON k.id = r.collection "
        "WHERE k.name = 'scifact' ORDER BY r.id"
    ).fetchall()
    records = [
        IndexRecord(id=r[0], text=r[1], context=r[2], vector=np.frombuffer(r[3], dtype="<f4"))
        for r in rows
    ]
    return records, [r[4] for r in rows]


def _query_vectors(texts: list[str]) -> np.ndarray:
    from agentic_platform.llm_gateway.catalog import Deployment
    from agentic_platform.llm_gateway.providers.local_embedder import embedder_from_deployment

    async def embed() -> np.ndarray:
        embedder = embedder_from_deployment(Deployment(provider="local", model="all-minilm-l6-v2"))
        result = await embedder.embed(texts)
        await embedder.aclose()
        return np.asarray(result.vectors, dtype=np.float32)

    return asyncio.run(embed())


def _evaluate(
    index: HybridIndex,
    owners: list[str],
    queries: dict[str, tuple[str, np.ndarray]],
    judged: dict[str, dict[str, int]],
    weights: tuple[float, ...],
) -> dict[float, tuple[float, float]]:
    """nDCG@10 and recall@100 per semantic weight (the rankings are computed once)."""
    scores: dict[float, list[tuple[float, float]]] = {w: [] for w in weights}
    assert index.vectors is not None
    for query_id, relevant in judged.items():
        text, vector = queries[query_id]
        semantic = index.vectors.cosine(vector, index.size)
        lexical = index.lexical.scores(text, index.alive)
        depth = index.fusion.candidates
        top_lexical = np.argpartition(-lexical, depth)[:depth]
        nominated = np.union1d(
            np.argpartition(-semantic, depth)[:depth], top_lexical[lexical[top_lexical] > 0]
        )
        for weight in weights:
            fused = fuse(semantic[nominated], lexical[nominated], FusionParameters(weight))
            order = nominated[np.argsort(-fused, kind="stable")]
            ranked = documents_in_order([owners[row] for row in order])
            scores[weight].append((ndcg_at(ranked, relevant), recall_at(ranked, relevant)))
    return {
        w: (statistics.fmean(s[0] for s in v), statistics.fmean(s[1] for s in v))
        for w, v in scores.items()
    }


def main() -> None:
    dataset = SciFact.load()
    records, owners = _records(DATA)
    print(f"{len(records)} chunks of {len(set(owners))} documents", flush=True)
    ids = list(dataset.queries)
    vectors = _query_vectors([dataset.queries[i] for i in ids])
    queries = {i: (dataset.queries[i], vectors[n]) for n, i in enumerate(ids)}
    best: tuple[float, BM25Parameters, float] | None = None
    for context_weight in CONTEXT_WEIGHTS:
        index = HybridIndex(BM25Parameters(context_weight=context_weight))
        index.add(records)
        for k1, b in itertools.product(K1, B):
            index.lexical.parameters = BM25Parameters(k1, b, context_weight)
            found = _evaluate(index, owners, queries, dataset.qrels["train"], SEMANTIC_WEIGHTS)
            weight, (ndcg, _) = max(found.items(), key=lambda item: item[1][0])
            print(
                f"k1={k1} b={b} context={context_weight} w={weight}: train {ndcg:.4f}", flush=True
            )
            if best is None or ndcg > best[0]:
                best = (ndcg, index.lexical.parameters, weight)
    assert best is not None
    train, bm25, weight = best
    index = HybridIndex(bm25)
    index.add(records)
    (test_ndcg, test_recall) = _evaluate(index, owners, queries, dataset.qrels["test"], (weight,))[
        weight
    ]
    print(f"chosen on train: {bm25}, semantic_weight={weight} (train nDCG@10 {train:.4f})")
    print(f"test: nDCG@10 {test_ndcg:.4f}, recall@100 {test_recall:.4f}")


if __name__ == "__main__":
    main()
