"""The contract every search backend fulfils, and the shapes that cross it.

A backend stores *records* in named *collections* (a knowledge base is one collection; the
memory service may keep one per agent). A record has text (searched lexically), an optional
context (a title or heading path, searched with more weight but not returned as text), a
vector (searched semantically), filterable ``metadata`` and an opaque ``payload`` returned
as stored. The caller embeds texts and queries; a backend never calls a model, except one
that embeds on its own side (``embeds_queries``, e.g. Bedrock Knowledge Bases).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from agentic_platform.search.filters import Filter

SearchMode = Literal["hybrid", "semantic", "lexical"]
Vector = Sequence[float] | npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class IndexRecord:
    """One searchable record: ``text`` and ``context`` are searched lexically, ``vector``
    semantically; ``metadata`` is what filters see; ``payload`` comes back as stored."""

    id: str
    text: str
    vector: Vector
    metadata: dict[str, Any] = field(default_factory=dict)
    payload: dict[str, Any] = field(default_factory=dict)
    context: str = ""


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """What to look for. ``vector`` is the query's embedding (not needed for lexical search
    or by a backend that embeds queries itself). ``min_score`` applies to the mode's own
    scale: cosine for semantic, BM25 for lexical, the fused 0..1 score for hybrid."""

    text: str
    vector: Vector | None = None
    mode: SearchMode = "hybrid"
    top_k: int = 10
    filter: Filter | None = None
    min_score: float | None = None


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A record as a search returns it, with its score on the search mode's scale."""

    id: str
    score: float
    text: str
    metadata: dict[str, Any]
    payload: dict[str, Any]


@runtime_checkable
class SearchBackend(Protocol):
    """Stores and searches records; see the module docstring."""

    embeds_queries: bool
    """True when the backend embeds texts itself (the caller sends no vectors)."""

    async def upsert(self, collection: str, records: Sequence[IndexRecord]) -> None:
        """Add records, replacing any with the same id."""
        ...

    async def delete(
        self, collection: str, *, ids: Sequence[str] | None = None, where: Filter | None = None
    ) -> int:
        """Remove the records with these ids and/or matching this filter; returns how many."""
        ...

    async def search(self, collection: str, query: SearchQuery) -> list[SearchHit]:
        """The best ``top_k`` records, best first."""
        ...

    async def fetch(self, collection: str, ids: Sequence[str]) -> list[SearchHit]:
        """The records with these ids that exist (score 0), in no particular order: how a
        caller reads the chunks next to a hit. A backend that cannot returns none."""
        ...

    async def drop(self, collection: str) -> None:
        """Remove the whole collection (no error if it does not exist)."""
        ...

    async def aclose(self) -> None:
        """Release connections and memory; called once at shutdown."""
        ...
