"""BM25 lexical ranking, in memory, over records that arrive and leave one batch at a time.

We score BM25 ourselves instead of using SQLite FTS5's ``bm25()`` because its ``k1`` and
``b`` are fixed, and tuning them (plus weighting a record's context — a title or heading
path — above its body, a light BM25F) is worth several nDCG points on SciFact. The same code
ranks on every embedded backend, so SQLite and the in-memory backend answer identically.

Text is lower-cased, split into word characters, stripped of a short English stop list and
Snowball-stemmed. Postings grow in place; a removed record is only masked out (statistics
count live records only) until its owner rebuilds the index.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import snowballstemmer  # type: ignore[import-untyped]

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]

# Lucene's classic English stop list.
STOP_WORDS = frozenset(
    {
        *("a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into"),
        *("is", "it", "no", "not", "of", "on", "or", "such", "that", "the", "their", "then"),
        *("there", "these", "they", "this", "to", "was", "will", "with"),
    }
)
_WORD = re.compile(r"\w+")


class Analyzer:
    """Turns text into index terms; caches stems (a corpus repeats its words)."""

    def __init__(self) -> None:
        self._stemmer = snowballstemmer.stemmer("english")
        self._stems: dict[str, str] = {}

    def terms(self, text: str) -> list[str]:
        stems = self._stems
        out: list[str] = []
        for word in _WORD.findall(text.lower()):
            if word in STOP_WORDS:
                continue
            stem = stems.get(word)
            if stem is None:
                stem = self._stemmer.stemWord(word)
                if len(stems) < 1_000_000:
                    stems[word] = stem
            out.append(stem)
        return out


@dataclass(frozen=True, slots=True)
class BM25Parameters:
    """Tuned on SciFact's train split (see bench/retrieval)."""

    k1: float = 0.9
    b: float = 0.75
    context_weight: float = 2.0


class _Postings:
    """The rows holding one term and the term's (weighted) frequency in each."""

    __slots__ = ("rows", "size", "weights")

    def __init__(self) -> None:
        self.rows = np.empty(4, dtype=np.int64)
        self.weights = np.empty(4, dtype=np.float32)
        self.size = 0

    def extend(self, rows: list[int], weights: list[float]) -> None:
        needed = self.size + len(rows)
        if needed > len(self.rows):
            capacity = max(needed, 2 * len(self.rows))
            self.rows = np.resize(self.rows, capacity)
            self.weights = np.resize(self.weights, capacity)
        self.rows[self.size : needed] = rows
        self.weights[self.size : needed] = weights
        self.size = needed


class LexicalIndex:
    """BM25 over rows numbered by the caller (the same row numbers as the vector side)."""

    def __init__(self, parameters: BM25Parameters | None = None) -> None:
        self.parameters = parameters or BM25Parameters()
        self.analyzer = Analyzer()
        self._postings: dict[str, _Postings] = {}
        self._lengths = np.zeros(0, dtype=np.float32)

    def add(self, rows: Sequence[int], texts: Sequence[str], contexts: Sequence[str]) -> None:
        """Index each text (and its context, weighted higher) under its row number."""
        if not rows:
            return
        self._grow(max(rows) + 1)
        batch: dict[str, tuple[list[int], list[float]]] = {}
        weight = self.parameters.context_weight
        for row, text, context in zip(rows, texts, contexts, strict=True):
            counts: dict[str, float] = {}
            for term in self.analyzer.terms(text):
                counts[term] = counts.get(term, 0.0) + 1.0
            for term in self.analyzer.terms(context):
                counts[term] = counts.get(term, 0.0) + weight
            self._lengths[row] = sum(counts.values())
            for term, count in counts.items():
                entry = batch.setdefault(term, ([], []))
                entry[0].append(row)
                entry[1].append(count)
        for term, (term_rows, weights) in batch.items():
            postings = self._postings.get(term)
            if postings is None:
                postings = self._postings[term] = _Postings()
            postings.extend(term_rows, weights)

    def _grow(self, size: int) -> None:
        if size > len(self._lengths):
            grown = np.zeros(max(size, 2 * len(self._lengths)), dtype=np.float32)
            grown[: len(self._lengths)] = self._lengths
            self._lengths = grown

    def scores(self, query: str, alive: BoolArray) -> FloatArray:
        """BM25 of every row (0 where no query term occurs). ``alive`` marks the live rows
        and covers every row ever added."""
        size = len(alive)
        result = np.zeros(size, dtype=np.float32)
        live_count = int(alive.sum())
        if live_count == 0:
            return result
        lengths = self._lengths[:size]
        average = float(lengths[alive].mean()) or 1.0
        k1, b = self.parameters.k1, self.parameters.b
        for term in set(self.analyzer.terms(query)):
            postings = self._postings.get(term)
            if postings is None:
                continue
            rows = postings.rows[: postings.size]
            live = alive[rows]
            frequency = int(live.sum())
            if frequency == 0:
                continue
            idf = math.log(1.0 + (live_count - frequency + 0.5) / (frequency + 0.5))
            weights = postings.weights[: postings.size]
            norm = k1 * (1.0 - b + b * lengths[rows] / average)
            result[rows] += live * (idf * weights * (k1 + 1.0) / (weights + norm))
        return result

    def vocabulary(self) -> Iterable[str]:
        return self._postings.keys()
