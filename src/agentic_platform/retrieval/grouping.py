"""Documents, not fragments: field collapsing of ranked chunks into distinct documents.

A search ranks chunks; several of the best are often pieces of one document. Collapsing
keeps each document once, at the rank of its best chunk, with its best ``passages`` chunks;
the searcher over-fetches chunks until ``top_k`` distinct documents are found (or the
knowledge bases hold no more). Neighbouring chunks (the positions around each passage, of
the same committed generation) are read from the backend by id, for context.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from agentic_platform.retrieval.intents import chunk_id
from agentic_platform.retrieval.models import KnowledgeBaseRow
from agentic_platform.retrieval.schemas import NeighbourChunk, RetrievedChunk, RetrievedDocument
from agentic_platform.search.backends.base import SearchBackend

OVERFETCH = 4
"""Chunks fetched per document wanted, at first (then four times as many, while short)."""
MIN_CANDIDATES = 40


@dataclass(slots=True)
class Candidate:
    """A ranked chunk with what collapsing and neighbours need to know of it."""

    chunk: RetrievedChunk
    generation: str
    kb: KnowledgeBaseRow


@dataclass(slots=True)
class Group:
    """One document's best candidates, best first."""

    key: tuple[str, str]
    candidates: list[Candidate] = field(default_factory=list)


def candidates_for(top_k: int) -> int:
    """How many chunks to ask for first to fill ``top_k`` documents."""
    return max(top_k * OVERFETCH, MIN_CANDIDATES)


def collapse(candidates: Sequence[Candidate], top_k: int, passages: int) -> list[Group]:
    """The best ``top_k`` distinct documents of candidates ranked best first."""
    groups: dict[tuple[str, str], Group] = {}
    for candidate in candidates:
        chunk = candidate.chunk
        key = (chunk.knowledge_base_id, chunk.document_id or chunk.id)
        group = groups.get(key)
        if group is None:
            if len(groups) == top_k:
                continue
            group = groups[key] = Group(key)
        if len(group.candidates) < passages:
            group.candidates.append(candidate)
    return list(groups.values())


def neighbour_ids(group: Group, neighbours: int) -> list[str]:
    """Backend ids of the chunks around the group's passages (not the passages)."""
    taken = {c.chunk.position for c in group.candidates}
    wanted: set[int] = set()
    for candidate in group.candidates:
        position = candidate.chunk.position
        if position is None or candidate.chunk.document_id is None:
            continue
        wanted.update(range(max(position - neighbours, 0), position + neighbours + 1))
    wanted -= {p for p in taken if p is not None}
    first = group.candidates[0]
    document_id = first.chunk.document_id
    if document_id is None:
        return []
    return [chunk_id(document_id, position, first.generation) for position in sorted(wanted)]


async def read_neighbours(
    backend: SearchBackend, group: Group, neighbours: int
) -> list[NeighbourChunk]:
    ids = neighbour_ids(group, neighbours)
    if not ids:
        return []
    hits = await backend.fetch(group.candidates[0].kb.collection, ids)
    found = [
        NeighbourChunk(
            id=hit.id.split("#", 1)[0],
            position=int(hit.payload.get("position", 0)),
            text=hit.text,
            location=hit.payload.get("location") or {},
        )
        for hit in hits
    ]
    return sorted(found, key=lambda chunk: chunk.position)


def to_document(group: Group, neighbours: list[NeighbourChunk]) -> RetrievedDocument:
    best = group.candidates[0].chunk
    metadata = dict(best.metadata)
    source = metadata.pop("source", None)
    return RetrievedDocument(
        id=group.key[1],
        knowledge_base_id=best.knowledge_base_id,
        score=best.score,
        title=best.title,
        source=source if isinstance(source, str) and source else None,
        metadata=metadata,
        passages=[candidate.chunk for candidate in group.candidates],
        neighbours=neighbours,
    )
