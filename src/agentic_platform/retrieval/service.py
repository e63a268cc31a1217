"""The retrieval gateway's logic: knowledge bases, who may see them, and search.

A knowledge base belongs to a team; its members (and admins) see it, anyone else gets a 404
as if it did not exist. Each knowledge base is one collection of its search backend, chosen
at creation, and records the embedding model its chunks were embedded with: queries are
embedded with the same model (through the LLM gateway, as the caller), and a caller that
expects another model is refused.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError

from agentic_platform.auth.keys import new_id
from agentic_platform.auth.principal import Principal
from agentic_platform.errors import ConflictError, InvalidRequestError, NotFoundError
from agentic_platform.retrieval.backends import KnowledgeBaseBackends
from agentic_platform.retrieval.chunking import ChunkingSettings
from agentic_platform.retrieval.intents import WriteIntents
from agentic_platform.retrieval.models import DocumentRow, IngestJobRow, KnowledgeBaseRow
from agentic_platform.retrieval.schemas import (
    BUILTIN_FIELDS,
    KnowledgeBase,
    KnowledgeBaseCreate,
    RetrievedChunk,
    RetrieveRequest,
)
from agentic_platform.search.backends.base import SearchBackend, SearchHit, SearchQuery
from agentic_platform.search.embedding import EmbedderClients
from agentic_platform.search.filters import check_filter
from agentic_platform.settings import RetrievalSettings
from agentic_platform.state import PlatformState

PROBE_TEXT = "dimension probe"
FIND_CACHE_SECONDS = 1.0
MAX_SEARCH_ROUNDS = 3


def to_knowledge_base(row: KnowledgeBaseRow) -> KnowledgeBase:
    return KnowledgeBase(
        id=row.id,
        name=row.name,
        description=row.description,
        team_id=row.team_id,
        embedding_model=row.embedding_model,
        dimensions=row.dimensions,
        backend=row.backend,
        chunking=ChunkingSettings.model_validate(row.chunking),
        metadata_fields=sorted({*row.metadata_fields, *BUILTIN_FIELDS}),
        document_count=row.document_count,
        chunk_count=row.chunk_count,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class KnowledgeBases:
    """Create, find, list and delete knowledge bases, with access rules."""

    def __init__(
        self,
        state: PlatformState,
        settings: RetrievalSettings,
        backends: KnowledgeBaseBackends,
        embedders: EmbedderClients,
        intents: WriteIntents,
    ) -> None:
        self._sessions = state.sessions
        self._settings = settings
        self._backends = backends
        self._embedders = embedders
        self._intents = intents
        self._found: dict[tuple[str, str], tuple[float, list[KnowledgeBaseRow]]] = {}

    async def create(self, principal: Principal, body: KnowledgeBaseCreate) -> KnowledgeBase:
        backend = body.backend or self._backends.default_name()
        self._backends.check_available(backend)
        options: dict[str, Any] = {}
        dimensions: int | None = None
        model = body.embedding_model or self._settings.default_embedding_model
        if backend == "bedrock":
            options["knowledge_base_id"] = body.bedrock_knowledge_base_id
            model = "bedrock-managed"
        else:
            probe = await self._embedders.for_principal(principal, model).embed_batch([PROBE_TEXT])
            dimensions = int(probe.shape[1])
        row = KnowledgeBaseRow(
            id=new_id("kb"),
            team_id=principal.team_id,
            name=body.name,
            description=body.description,
            embedding_model=model,
            dimensions=dimensions,
            backend=backend,
            backend_options=options,
            chunking=body.chunking.model_dump(),
            metadata_fields=[],
            created_by=principal.id,
        )
        try:
            async with self._sessions.begin() as session:
                session.add(row)
        except IntegrityError:
            raise ConflictError(
                f"Your team already has a knowledge base named '{body.name}'.", param="name"
            ) from None
        self.forget()
        return to_knowledge_base(row)

    async def find(self, principal: Principal, reference: str) -> KnowledgeBaseRow:
        """A knowledge base by id or (within the caller's team) by name; 404 if the caller
        may not see it. Rows are cached for ``FIND_CACHE_SECONDS`` (a search then costs no
        query for them); this process's own writes refresh them at once."""
        key = (reference, principal.team_id)
        cached = self._found.get(key)
        if cached is not None and cached[0] > time.monotonic():
            rows = cached[1]
        else:
            rows = await self._lookup(principal, reference)
            self._found[key] = (time.monotonic() + FIND_CACHE_SECONDS, rows)
        for row in rows:
            if row.team_id == principal.team_id or principal.is_admin:
                return row
        raise NotFoundError(
            f"No knowledge base '{reference}' (or it belongs to another team).",
            param="knowledge_base",
        )

    async def _lookup(self, principal: Principal, reference: str) -> list[KnowledgeBaseRow]:
        query = select(KnowledgeBaseRow).where(
            or_(
                KnowledgeBaseRow.id == reference,
                (KnowledgeBaseRow.name == reference)
                & (KnowledgeBaseRow.team_id == principal.team_id),
            )
        )
        async with self._sessions() as session:
            return list((await session.execute(query)).scalars().all())

    def forget(self) -> None:
        """Drop cached rows (after a write changed a knowledge base)."""
        self._found.clear()

    async def list(self, principal: Principal) -> list[KnowledgeBase]:
        query = select(KnowledgeBaseRow).order_by(KnowledgeBaseRow.created_at)
        if not principal.is_admin:
            query = query.where(KnowledgeBaseRow.team_id == principal.team_id)
        async with self._sessions() as session:
            rows = (await session.execute(query)).scalars().all()
        return [to_knowledge_base(row) for row in rows]

    async def delete(self, row: KnowledgeBaseRow) -> None:
        """Rows first, with an intent to drop the collection, in one transaction; then the
        backend's data. A crash in between leaves the drop to the next sweep."""
        self.forget()
        async with self._sessions.begin() as session:
            if row.backend != "bedrock":
                self._intents.obsolete_collection(session, row)
            await session.execute(delete(IngestJobRow).where(IngestJobRow.kb_id == row.id))
            await session.execute(delete(DocumentRow).where(DocumentRow.kb_id == row.id))
            await session.execute(delete(KnowledgeBaseRow).where(KnowledgeBaseRow.id == row.id))
        self.forget()
        await self._intents.tidy(row.id)


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
    ) -> list[RetrievedChunk]:
        self.check(rows, request)
        vectors = await self._query_vectors(principal, rows, request)
        results = await asyncio.gather(
            *(self._search_one(row, request, vectors.get(row.embedding_model)) for row in rows)
        )
        merged = [chunk for chunks in results for chunk in chunks]
        merged.sort(key=lambda chunk: chunk.score, reverse=True)
        return merged[: request.top_k]

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
        self, row: KnowledgeBaseRow, request: RetrieveRequest, vector: list[float] | None
    ) -> list[RetrievedChunk]:
        """The best committed chunks: hits whose generation is not their document's
        committed one (a write in flight or interrupted, leftovers) are dropped, and the
        backend asked for more while some were."""
        backend: SearchBackend = self._backends.get(row.backend)
        top_k = request.top_k
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
                return [_chunk(row, hit) for hit in hits]
            committed = await self._committed(row, hits)
            if len(committed) == len(hits) or len(hits) < top_k:
                break
            top_k *= 2
        return [_chunk(row, hit) for hit in committed[: request.top_k]]

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


def _chunk(row: KnowledgeBaseRow, hit: SearchHit) -> RetrievedChunk:
    metadata = dict(hit.metadata)
    document_id = metadata.pop("document_id", None)
    payload = hit.payload
    generation = payload.get("generation") or ""
    return RetrievedChunk(
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


class RetrievalService:
    """Everything the retrieval routes use, built once at start-up."""

    def __init__(self, state: PlatformState, settings: RetrievalSettings) -> None:
        from agentic_platform.retrieval.documents import Documents
        from agentic_platform.retrieval.jobs import IngestJobs

        self.settings = settings
        self.backends = KnowledgeBaseBackends(state, settings)
        self.embedders = EmbedderClients(state, settings)
        self.intents = WriteIntents(state.sessions, self.backends, settings.job_lease_seconds)
        self.knowledge_bases = KnowledgeBases(
            state, settings, self.backends, self.embedders, self.intents
        )
        self.searcher = Searcher(state, settings, self.backends, self.embedders)
        self.documents = Documents(
            state,
            settings,
            self.backends,
            self.embedders,
            self.intents,
            self.knowledge_bases.forget,
        )
        self.jobs = IngestJobs(state, settings, self.documents, self.intents)

    async def aclose(self) -> None:
        await self.jobs.aclose()
        await self.embedders.aclose()
        await self.backends.aclose()
