"""One collection held in memory: exact vectors, BM25 postings and the stored records.

The embedded backends (SQLite and in-memory) rank with this; they differ only in where the
records persist. Keeping each record's text, metadata and payload here too means a search
answers without touching the database. Rows are append-only: replacing or removing a record
masks its old row, and :meth:`HybridIndex.compacted` rebuilds the index without the dead
rows once too much of it is dead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from agentic_platform.search.backends.base import IndexRecord, SearchHit, SearchMode, Vector
from agentic_platform.search.filters import Predicate
from agentic_platform.search.fusion import FusionParameters, fuse
from agentic_platform.search.lexical import BM25Parameters, LexicalIndex
from agentic_platform.search.vectors import VectorMatrix

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]

COMPACT_WHEN_WASTED = 0.5


class HybridIndex:
    """Exact vectors, BM25 postings and stored records of one collection; see the module
    docstring. Not thread-safe: its owner serialises writes and searches."""

    def __init__(
        self,
        bm25: BM25Parameters | None = None,
        fusion: FusionParameters | None = None,
    ) -> None:
        self.bm25 = bm25 or BM25Parameters()
        self.fusion = fusion or FusionParameters()
        self.lexical = LexicalIndex(self.bm25)
        self.vectors: VectorMatrix | None = None
        self.rows: dict[str, int] = {}
        self._records: list[IndexRecord | None] = []
        self._alive = np.zeros(0, dtype=np.bool_)

    @property
    def size(self) -> int:
        """Rows ever added (live or not)."""
        return len(self._records)

    @property
    def live(self) -> int:
        return len(self.rows)

    @property
    def alive(self) -> BoolArray:
        alive: BoolArray = self._alive[: self.size]
        return alive

    def add(self, records: Sequence[IndexRecord]) -> None:
        """Index records, replacing earlier ones with the same ids."""
        if not records:
            return
        if self.vectors is None:
            self.vectors = VectorMatrix(len(records[0].vector))
        self.remove([record.id for record in records])
        start = self.size
        rows = list(range(start, start + len(records)))
        self.vectors.put(rows, [record.vector for record in records])
        self.lexical.add(rows, [r.text for r in records], [r.context for r in records])
        for row, record in zip(rows, records, strict=True):
            self.rows[record.id] = row
            self._records.append(replace(record, vector=()))
        if self.size > len(self._alive):
            grown = np.zeros(max(self.size, 2 * len(self._alive)), dtype=np.bool_)
            grown[: len(self._alive)] = self._alive
            self._alive = grown
        self._alive[start : self.size] = True

    def remove(self, ids: Sequence[str]) -> int:
        removed = 0
        for record_id in ids:
            row = self.rows.pop(record_id, None)
            if row is not None:
                self._alive[row] = False
                self._records[row] = None
                removed += 1
        return removed

    def compacted(self) -> HybridIndex:
        """This index without its dead rows, if they are too many (else itself)."""
        if not self.size or self.live / self.size > 1 - COMPACT_WHEN_WASTED:
            return self
        fresh = HybridIndex(self.bm25, self.fusion)
        live = sorted(self.rows.values())
        if live and self.vectors is not None:
            vectors = self.vectors.rows(live)
            stored = [self._records[row] for row in live]
            fresh.add([replace(r, vector=v) for r, v in zip(stored, vectors, strict=True) if r])
        return fresh

    def ids_matching(self, holds: Predicate) -> list[str]:
        """Ids of the live records whose metadata satisfies a filter's predicate."""
        return [r.id for r in self._records if r is not None and holds(r.metadata)]

    def fetch(self, ids: Sequence[str]) -> list[SearchHit]:
        """The live records with these ids, scored 0."""
        zero = np.zeros(self.size, dtype=np.float32)
        return [self._hit(self.rows[i], zero) for i in ids if i in self.rows]

    def mask_of(self, ids: Sequence[str]) -> BoolArray:
        mask = np.zeros(self.size, dtype=np.bool_)
        mask[[self.rows[i] for i in ids if i in self.rows]] = True
        return mask

    def rank(
        self,
        mode: SearchMode,
        text: str,
        vector: Vector | None,
        top_k: int,
        *,
        eligible: BoolArray | None = None,
        min_score: float | None = None,
    ) -> list[SearchHit]:
        """The best ``top_k`` live (and ``eligible``) records for the query."""
        mask = self.alive.copy()
        if eligible is not None:
            mask &= eligible[: self.size]
        if self.vectors is None or not mask.any() or top_k < 1:
            return []
        if mode == "lexical":
            scores = self.lexical.scores(text, self.alive)
            mask &= scores > 0
        elif vector is None:
            raise ValueError(f"{mode} search needs a query vector")
        elif mode == "semantic":
            scores = self.vectors.cosine(vector, self.size)
        else:
            scores = self._hybrid(text, vector, mask)
        if min_score is not None:
            mask &= scores >= min_score
        return [self._hit(row, scores) for row in _best_rows(scores, mask, top_k)]

    def _hit(self, row: int, scores: FloatArray) -> SearchHit:
        record = self._records[row]
        assert record is not None
        return SearchHit(
            record.id, float(scores[row]), record.text, record.metadata, record.payload
        )

    def _hybrid(self, text: str, vector: Vector, mask: BoolArray) -> FloatArray:
        """Fused scores over the union of both rankings' candidates (others score -inf)."""
        assert self.vectors is not None
        semantic = self.vectors.cosine(vector, self.size)
        lexical = self.lexical.scores(text, self.alive)
        depth = self.fusion.candidates
        candidates = np.union1d(
            _top_rows(semantic, mask, depth), _top_rows(lexical, mask & (lexical > 0), depth)
        )
        fused = np.full(self.size, -np.inf, dtype=np.float32)
        fused[candidates] = fuse(semantic[candidates], lexical[candidates], self.fusion)
        return fused


def _top_rows(scores: FloatArray, mask: BoolArray, count: int) -> npt.NDArray[np.int64]:
    """Up to ``count`` masked rows with the highest scores, in no particular order."""
    eligible = np.flatnonzero(mask)
    if len(eligible) > count:
        best = np.argpartition(-scores[eligible], count - 1)[:count]
        eligible = eligible[best]
    return eligible


def _best_rows(scores: FloatArray, mask: BoolArray, top_k: int) -> list[int]:
    rows = _top_rows(scores, mask, top_k)
    return [int(row) for row in rows[np.argsort(-scores[rows], kind="stable")]]
