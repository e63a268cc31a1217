"""Searching knowledge bases: rank chunks, optionally rerank them, optionally collapse them
into distinct documents (with their neighbouring chunks).

Only committed chunks are returned: hits whose generation is not their document's committed
one (a write in flight or interrupted, leftovers) are dropped, and the backend asked for
more while some were. With ``group_by: "document"`` the searcher over-fetches chunks until
``top_k`` distinct documents are found or the knowledge bases hold no more.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from agentic_platform.auth.principal import Principal
from agentic_platform.errors import InvalidRequestError
from agentic_platform.retrieval import grouping, reranking
from agentic_platform.retrieval.backends import KnowledgeBaseBackends
from agentic_platform.retrieval.grouping import Candidate
from agentic_platform.retrieval.models import DocumentRow, KnowledgeBaseRow
from agentic_platform.retrieval.schemas import (
    BUILTIN_FIELDS,
    RetrievedChunk,
    RetrievedDocument,
    RetrieveRequest,
)
from agentic_platform.search.backends.base import SearchBackend, SearchHit, SearchQuery
from agentic_platform.search.embedding import EmbedderClients
from agentic_platform.search.filters import check_filter
from agentic_platform.settings import RetrievalSettings
from agentic_platform.state import PlatformState

MAX_SEARCH_ROUNDS = 3
MAX_GROUPING_ROUNDS = 3


@dataclass(slots=True)
class SearchResult:
    chunks: list[RetrievedChunk]
    documents: list[RetrievedDocument] | None = None
    reranked_by: str | None = None


class Searcher:
    """Runs a retrieve request against one or several knowledge bases."""

    def __init__(
        self,
        state: PlatformState,
        settings: RetrievalSettings,
        backends: KnowledgeBaseBackends,
        embedders: EmbedderClients,
    ) -> None:
        self._sessions = state.sessions
        self._settings = settings
        self._backends = backends
        self._embedders = embedders

    def check(self, rows: Sequence[KnowledgeBaseRow], request: RetrieveRequest) -> None:
        """Refuse what cannot be searched; a filter may name a field of any of the rows."""
        if request.top_k > self._settings.max_top_k:
            raise InvalidRequestError(
                f"top_k may be at most {self._settings.max_top_k}.", param="top_k"
            )
        for row in rows:
            expected = request.embedding_model
            if expected is not None and expected != row.embedding_model:
                raise InvalidRequestError(
                    f"The knowledge base '{row.name}' is embedded with '{row.embedding_model}', "
                    f"not '{expected}': search it with its own model.",
                    param="embedding_model",
                    code="embedding_model_mismatch",
                )
        ours = [row for row in rows if row.backend != "bedrock"]
        if request.filter is not None and ours:
            fields = {field for row in ours for field in row.metadata_fields}
            check_filter(request.filter, {*fields, *BUILTIN_FIELDS})

    async def search(
        self, principal: Principal, rows: Sequence[KnowledgeBaseRow], request: RetrieveRequest
    ) -> SearchResult:
        self.check(rows, request)
        model = reranking.rerank_model(rows, request, self._settings.default_rerank_model)
        vectors = await self._query_vectors(principal, rows, request)
        grouped = request.group_by == "document"
        wanted = request.top_k
        fetch = grouping.candidates_for(wanted) if grouped else wanted
        if model is not None:
            fetch = max(fetch, reranking.RERANK_CANDIDATES)
        fetch = min(fetch, self._settings.max_top_k)
        for _ in range(MAX_GROUPING_ROUNDS):
            candidates, exhausted = await self._candidates(rows, request, vectors, fetch)
            if not grouped or exhausted or fetch >= self._settings.max_top_k:
                break
            if len(grouping.collapse(candidates, wanted, 1)) >= wanted:
                break
            fetch = min(fetch * 4, self._settings.max_top_k)
        if model is not None:
            head = candidates[: max(reranking.RERANK_CANDIDATES, wanted)]
            reordered = await reranking.rerank(
                self._embedders, principal, model, request.query, head
            )
            candidates = reordered + candidates[len(head) :]
        if not grouped:
            return SearchResult([c.chunk for c in candidates[:wanted]], reranked_by=model)
        groups = grouping.collapse(candidates, wanted, request.passages)
        documents = await self._documents(groups, request.neighbours)
        best = [document.passages[0] for document in documents]
        return SearchResult(best, documents, reranked_by=model)

    async def _documents(
        self, groups: list[grouping.Group], neighbours: int
    ) -> list[RetrievedDocument]:
        async def one(group: grouping.Group) -> RetrievedDocument:
            around = []
            if neighbours:
                backend = self._backends.get(group.candidates[0].kb.backend)
                around = await grouping.read_neighbours(backend, group, neighbours)
            return grouping.to_document(group, around)

        return list(await asyncio.gather(*(one(group) for group in groups)))

    async def _candidates(
        self,
        rows: Sequence[KnowledgeBaseRow],
        request: RetrieveRequest,
        vectors: dict[str, list[float]],
        top_k: int,
    ) -> tuple[list[Candidate], bool]:
        """The best ``top_k`` committed chunks of all the rows, best first, and whether the
        rows hold no more."""
        results = await asyncio.gather(
            *(
                self._search_one(row, request, vectors.get(row.embedding_model), top_k)
                for row in rows
            )
        )
        merged = [candidate for found, _ in results for candidate in found]
        merged.sort(key=lambda candidate: candidate.chunk.score, reverse=True)
        return merged[:top_k], all(exhausted for _, exhausted in results)

    async def _query_vectors(
        self, principal: Principal, rows: Sequence[KnowledgeBaseRow], request: RetrieveRequest
    ) -> dict[str, list[float]]:
        if request.search_type == "lexical":
            return {}
        models = {
            row.embedding_model
            for row in rows
            if not self._backends.get(row.backend).embeds_queries
        }
        vectors = {}
        for model in sorted(models):
            embedder = self._embedders.for_principal(principal, model)
            vectors[model] = (await embedder.embed_batch([request.query]))[0].tolist()
        return vectors

    async def _search_one(
        self,
        row: KnowledgeBaseRow,
        request: RetrieveRequest,
        vector: list[float] | None,
        wanted: int,
    ) -> tuple[list[Candidate], bool]:
        """The best ``wanted`` committed chunks of one knowledge base, and whether it holds
        no more."""
        backend: SearchBackend = self._backends.get(row.backend)
        top_k = wanted
        for _ in range(MAX_SEARCH_ROUNDS):
            query = SearchQuery(
                text=request.query,
                vector=vector,
                mode=request.search_type,
                top_k=top_k,
                filter=request.filter,
                min_score=request.min_score,
            )
            hits = await backend.search(row.collection, query)
            if row.backend == "bedrock":  # Bedrock's own documents: no rows here
                return [_candidate(row, hit) for hit in hits], len(hits) < top_k
            committed = await self._committed(row, hits)
            if len(committed) == len(hits) or len(hits) < top_k:
                break
            top_k *= 2
        exhausted = len(hits) < query.top_k
        return [_candidate(row, hit) for hit in committed[:wanted]], exhausted

    async def _committed(self, row: KnowledgeBaseRow, hits: list[SearchHit]) -> list[SearchHit]:
        if not hits:
            return hits
        documents = {str(hit.metadata.get("document_id")) for hit in hits}
        async with self._sessions() as session:
            found = await session.execute(
                select(DocumentRow.id, DocumentRow.generation).where(
                    DocumentRow.kb_id == row.id, DocumentRow.id.in_(documents)
                )
            )
            generations = {document_id: generation for document_id, generation in found}
        return [
            hit
            for hit in hits
            if generations.get(str(hit.metadata.get("document_id")))
            == hit.payload.get("generation", "")
        ]


def _candidate(row: KnowledgeBaseRow, hit: SearchHit) -> Candidate:
    metadata = dict(hit.metadata)
    document_id = metadata.pop("document_id", None)
    payload = hit.payload
    generation = payload.get("generation") or ""
    chunk = RetrievedChunk(
        id=hit.id.removesuffix(f"#{generation}") if generation else hit.id,
        score=hit.score,
        text=hit.text,
        document_id=document_id if isinstance(document_id, str) else None,
        knowledge_base_id=row.id,
        position=payload.get("position"),
        location=payload.get("location") or {},
        title=payload.get("title") or None,
        metadata=metadata,
    )
    return Candidate(chunk, generation, row)
