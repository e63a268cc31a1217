"""The retrieval gateway's logic: knowledge bases, who may see them, and search.

A knowledge base belongs to a team; its members (and admins) see it, anyone else gets a 404
as if it did not exist. Each knowledge base is one collection of its search backend, chosen
at creation, and records the embedding model its chunks were embedded with: queries are
embedded with the same model (through the LLM gateway, as the caller), and a caller that
expects another model is refused.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError

from agentic_platform.auth.keys import new_id
from agentic_platform.auth.principal import Principal
from agentic_platform.errors import ConflictError, NotFoundError
from agentic_platform.retrieval.backends import KnowledgeBaseBackends
from agentic_platform.retrieval.chunking import ChunkingSettings
from agentic_platform.retrieval.intents import WriteIntents
from agentic_platform.retrieval.models import DocumentRow, IngestJobRow, KnowledgeBaseRow
from agentic_platform.retrieval.schemas import (
    BUILTIN_FIELDS,
    KnowledgeBase,
    KnowledgeBaseCreate,
)
from agentic_platform.search.embedding import EmbedderClients
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
        rerank_model=row.backend_options.get("rerank_model"),
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
        if body.rerank_model is not None:
            options["rerank_model"] = body.rerank_model
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


class RetrievalService:
    """Everything the retrieval routes use, built once at start-up."""

    def __init__(self, state: PlatformState, settings: RetrievalSettings) -> None:
        from agentic_platform.retrieval.documents import Documents
        from agentic_platform.retrieval.jobs import IngestJobs
        from agentic_platform.retrieval.search import Searcher

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
