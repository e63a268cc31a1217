"""Turns the worker has not indexed yet, found by their words beside the index.

The worker embeds new turns in rounds, and under load a round takes a second or more (the
embedder is the bottleneck of a busy 2-core machine). A turn must not wait for it to be
found: a search also reads the caller's newest turns that are not indexed yet (at most
:data:`UNINDEXED_LIMIT`, one query on the database, so every replica sees every replica's
turns), ranks them with BM25 over the same text and context the index would hold, and merges
them with the index's hits.

The best of them for the query's words (as many as the search asks for) are then embedded
with the query, in the same embedding call, and scored exactly as the index fuses a
candidate: ``w * cosine + (1 - w) * bm25 / best``, ``best`` the highest BM25 among these
turns (in lexical search, their BM25). Their vectors are kept for the worker, which then
need not embed them again. Semantic search sees a turn once the worker has indexed it. A
turn the index already returns is never added twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from agentic_platform.memory.index import (
    MEMORY_BM25,
    MEMORY_FUSION,
    keywords,
    turn_metadata,
    turn_text,
    windows,
)
from agentic_platform.memory.models import MessageRow, SessionRow
from agentic_platform.search.backends.base import SearchHit
from agentic_platform.search.filters import Filter, to_predicate
from agentic_platform.search.lexical import LexicalIndex

UNINDEXED_LIMIT = 500
"""The newest unindexed turns a search reads (the worker keeps far fewer waiting)."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """A turn not indexed yet that the query's words match, with its BM25."""

    session: SessionRow
    turn: MessageRow
    text: str
    bm25: float


def lexical_candidates(
    pending: Sequence[tuple[SessionRow, MessageRow]],
    text: str,
    *,
    where: Filter | None,
    context_turns: int,
    limit: int,
) -> list[Candidate]:
    """The ``limit`` turns of ``pending`` with the best BM25 for the query, best first."""
    if not pending:
        return []
    allowed = to_predicate(where) if where is not None else None
    by_session: dict[str, tuple[SessionRow, list[MessageRow]]] = {}
    for session, turn in pending:
        by_session.setdefault(session.id, (session, []))[1].append(turn)
    records: list[tuple[SessionRow, MessageRow, str, str]] = []
    for session, turns in by_session.values():
        turns.sort(key=lambda turn: turn.position)
        for window in windows(turns, [], context_turns):
            if allowed is None or allowed(turn_metadata(session, window.turn)):
                records.append((session, window.turn, turn_text(window.turn), window.context()))
    if not records:
        return []
    lexical = LexicalIndex(MEMORY_BM25)
    lexical.add(range(len(records)), [r[2] for r in records], [r[3] for r in records])
    scores = lexical.scores(keywords(text), np.ones(len(records), dtype=np.bool_))
    ranked = sorted((i for i in range(len(records)) if scores[i] > 0), key=lambda i: -scores[i])
    return [
        Candidate(records[i][0], records[i][1], records[i][2], float(scores[i]))
        for i in ranked[:limit]
    ]


def candidate_hits(
    candidates: Sequence[Candidate],
    cosines: Sequence[float] | None,
    *,
    min_score: float | None,
) -> list[SearchHit]:
    """The candidates as hits: fused with their ``cosines`` (hybrid), else by BM25."""
    if not candidates:
        return []
    best = max(candidate.bm25 for candidate in candidates)
    weight = MEMORY_FUSION.semantic_weight
    hits = []
    for i, candidate in enumerate(candidates):
        score = candidate.bm25
        if cosines is not None:
            score = weight * cosines[i] + (1.0 - weight) * candidate.bm25 / best
        if min_score is not None and score < min_score:
            continue
        hits.append(
            SearchHit(
                id=candidate.turn.id,
                score=score,
                text=candidate.text,
                metadata=turn_metadata(candidate.session, candidate.turn),
                payload={},
            )
        )
    return hits


def merged(
    indexed: Sequence[SearchHit], unindexed: Sequence[SearchHit], top_k: int
) -> list[SearchHit]:
    """The best ``top_k`` of both, by score; a turn the index returned keeps its own hit."""
    if not unindexed:
        return list(indexed)
    seen = {hit.id for hit in indexed}
    both = [*indexed, *(hit for hit in unindexed if hit.id not in seen)]
    return sorted(both, key=lambda hit: -hit.score)[:top_k]
