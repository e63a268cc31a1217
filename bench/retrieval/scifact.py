"""BEIR SciFact from ``../shared/datasets/scifact``, and the ranking metrics we report."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DIR = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "scifact"


@dataclass(frozen=True)
class SciFact:
    corpus: list[dict[str, str]]
    queries: dict[str, str]
    qrels: dict[str, dict[str, dict[str, int]]]
    """split -> query id -> document id -> relevance."""

    @classmethod
    def load(cls, folder: Path = DEFAULT_DIR) -> SciFact:
        corpus = [json.loads(line) for line in (folder / "corpus.jsonl").open()]
        queries = {q["_id"]: q["text"] for q in map(json.loads, (folder / "queries.jsonl").open())}
        qrels: dict[str, dict[str, dict[str, int]]] = {}
        for split in ("train", "test"):
            judged: dict[str, dict[str, int]] = {}
            for line in (folder / "qrels" / f"{split}.tsv").read_text().splitlines()[1:]:
                query, document, score = line.split("\t")
                if int(score) > 0:
                    judged.setdefault(query, {})[document] = int(score)
            qrels[split] = judged
        return cls(corpus, queries, qrels)

    def documents(self) -> list[dict[str, object]]:
        """The corpus as ingestion requests: the id kept, the title as the title."""
        return [
            {"id": doc["_id"], "title": doc["title"], "text": doc["text"]} for doc in self.corpus
        ]


def ndcg_at(ranked: Sequence[str], relevant: dict[str, int], k: int = 10) -> float:
    gain = sum(relevant.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    best = sum(value / math.log2(i + 2) for i, value in enumerate(ideal))
    return gain / best if best else 0.0


def recall_at(ranked: Sequence[str], relevant: dict[str, int], k: int = 100) -> float:
    return len(set(ranked[:k]) & set(relevant)) / len(relevant)


def documents_in_order(chunk_document_ids: Sequence[str | None]) -> list[str]:
    """Chunks ranked best first, as a document ranking (a document ranks by its best chunk)."""
    seen: dict[str, None] = {}
    for document in chunk_document_ids:
        if document is not None and document not in seen:
            seen[document] = None
    return list(seen)


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))
    return ordered[index]
