"""A knowledge base's documents: ingest (now, or in a job), list, read, delete.

The document rows (one per document, with a content hash and the generation of its chunks)
live in the platform database; the chunks live in the knowledge base's search backend. A
document's chunks and its row appear together: the chunks are written first under a new
generation, and become content when the row naming it commits (see :mod:`.intents`). Writes
to one knowledge base take turns in this process (one lock per knowledge base).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from agentic_platform.auth.principal import Principal
from agentic_platform.db.base import utcnow
from agentic_platform.errors import InvalidRequestError, NotFoundError, PlatformError
from agentic_platform.retrieval.backends import KnowledgeBaseBackends
from agentic_platform.retrieval.chunking import ChunkingSettings
from agentic_platform.retrieval.ingest import (
    IngestPipeline,
    Outcome,
    PreparedDocument,
    Report,
    prepare_document,
)
from agentic_platform.retrieval.intents import ChunkSet, WriteIntents, new_generation
from agentic_platform.retrieval.models import DocumentRow, KnowledgeBaseRow
from agentic_platform.retrieval.schemas import Document, DocumentIn, DocumentList, DocumentResult
from agentic_platform.search.embedding import EmbedderClients, FloatArray
from agentic_platform.settings import RetrievalSettings
from agentic_platform.state import PlatformState


def to_document(row: DocumentRow) -> Document:
    return Document(
        id=row.id,
        title=row.title,
        source=row.source or None,
        content_type=row.content_type,
        metadata=row.metadata_,
        size_bytes=row.size_bytes,
        chunk_count=row.chunk_count,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class Documents:
    """Ingests, lists and deletes the documents of knowledge bases."""

    def __init__(
        self,
        state: PlatformState,
        settings: RetrievalSettings,
        backends: KnowledgeBaseBackends,
        embedders: EmbedderClients,
        intents: WriteIntents,
        changed: Callable[[], None],
    ) -> None:
        self._sessions = state.sessions
        self._intents = intents
        self._changed = changed
        self._settings = settings
        self._backends = backends
        self._embedders = embedders
        self._locks: dict[str, asyncio.Lock] = {}

    def _writable(self, kb: KnowledgeBaseRow) -> None:
        if kb.backend == "bedrock":
            raise InvalidRequestError(
                "This knowledge base is an Amazon Bedrock knowledge base: it is read-only here "
                "(add documents through Bedrock's data sources).",
                code="read_only_backend",
            )

    async def prepare_all(
        self, kb: KnowledgeBaseRow, documents: Sequence[DocumentIn]
    ) -> list[PreparedDocument]:
        """Parse and chunk every document, refusing the request at the first bad one."""
        self._writable(kb)
        chunking = ChunkingSettings.model_validate(kb.chunking)
        prepared = []
        for index, document in enumerate(documents):
            try:
                prepared.append(
                    await asyncio.to_thread(
                        prepare_document,
                        index,
                        document,
                        chunking,
                        self._settings.max_document_bytes,
                    )
                )
            except PlatformError as error:
                error.message = f"documents[{index}]: {error.message}"
                error.param = f"documents[{index}].{error.param or 'content'}"
                raise
        return prepared

    async def ingest(
        self, principal: Principal, kb: KnowledgeBaseRow, prepared: Sequence[PreparedDocument]
    ) -> list[DocumentResult]:
        """Ingest already prepared documents now; the first failure fails the request."""
        outcomes: dict[int, Outcome] = {}

        async def report(index: int, outcome: Outcome) -> None:
            outcomes[index] = outcome

        async def items() -> AsyncIterator[PreparedDocument | tuple[int, PlatformError]]:
            for document in prepared:
                yield document

        await self.run(principal, kb, items(), report)
        for document in prepared:
            outcome = outcomes[document.index]
            if isinstance(outcome, PlatformError):
                raise outcome
        return [outcomes[document.index] for document in prepared]  # type: ignore[misc]

    async def prepared_lazily(
        self, kb: KnowledgeBaseRow, documents: Sequence[DocumentIn]
    ) -> AsyncIterator[PreparedDocument | tuple[int, PlatformError]]:
        """Each document parsed and chunked as the pipeline needs it; failures as items."""
        chunking = ChunkingSettings.model_validate(kb.chunking)
        for index, document in enumerate(documents):
            try:
                yield await asyncio.to_thread(
                    prepare_document, index, document, chunking, self._settings.max_document_bytes
                )
            except PlatformError as error:
                yield index, error

    async def run(
        self,
        principal: Principal,
        kb: KnowledgeBaseRow,
        documents: AsyncIterator[PreparedDocument | tuple[int, PlatformError]],
        report: Report,
    ) -> None:
        self._writable(kb)
        embedder = self._embedders.for_principal(principal, kb.embedding_model, ingesting=True)

        async def write(ready: list[tuple[PreparedDocument, FloatArray]]) -> list[Outcome]:
            return await self._write(kb, ready)

        async def unchanged(document: PreparedDocument) -> bool:
            return await self._unchanged(kb.id, document)

        pipeline = IngestPipeline(embedder, write, unchanged, self._settings.embedding_concurrency)
        await pipeline.run(documents, report)

    async def _unchanged(self, kb_id: str, document: PreparedDocument) -> bool:
        async with self._sessions() as session:
            row = await session.get(DocumentRow, (kb_id, document.id))
        return row is not None and _fingerprint(row) == document.fingerprint()

    async def _write(
        self, kb: KnowledgeBaseRow, ready: list[tuple[PreparedDocument, FloatArray]]
    ) -> list[Outcome]:
        """Index the documents' chunks under a new generation, then commit their rows and
        the knowledge base's counters, then remove what the rows no longer name."""
        if kb.dimensions is not None:
            for _, vectors in ready:
                if vectors.shape[1] != kb.dimensions:
                    raise InvalidRequestError(
                        f"The embedder returned {vectors.shape[1]}-dimensional vectors; the "
                        f"knowledge base holds {kb.dimensions}.",
                        code="dimension_mismatch",
                    )
        backend = self._backends.get(kb.backend)
        documents = [document for document, _ in ready]
        generation = new_generation()
        chunk_sets = [ChunkSet(d.id, generation, len(d.chunks)) for d in documents]
        async with self._locks.setdefault(kb.id, asyncio.Lock()):
            intent_ids = await self._intents.begin(kb, chunk_sets)
            try:
                records = [r for d, vectors in ready for r in d.records(vectors, generation)]
                await backend.upsert(kb.collection, records)
                replaced = await self._save_rows_once_more_on_a_race(
                    kb, documents, generation, intent_ids
                )
            except BaseException:
                # Mark the chunks for removal now; if even that fails, the intents expire
                # and a later sweep claims them.
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._intents.abandon(kb, chunk_sets, intent_ids))
                raise
            await self._intents.tidy(kb.id)
        return [
            DocumentResult(
                id=document.id,
                status="replaced" if document.id in replaced else "created",
                chunk_count=len(document.chunks),
            )
            for document in documents
        ]

    async def _save_rows_once_more_on_a_race(
        self,
        kb: KnowledgeBaseRow,
        documents: list[PreparedDocument],
        generation: str,
        intent_ids: list[str],
    ) -> set[str]:
        """``_save_rows``, again if another replica created one of the documents meanwhile
        (the rows it added then exist, are locked and replaced like any other)."""
        try:
            return await self._save_rows(kb, documents, generation, intent_ids)
        except IntegrityError:
            return await self._save_rows(kb, documents, generation, intent_ids)

    async def _save_rows(
        self,
        kb: KnowledgeBaseRow,
        documents: list[PreparedDocument],
        generation: str,
        intent_ids: list[str],
    ) -> set[str]:
        """Commit the rows naming ``generation``; returns the ids of documents replaced."""
        now = utcnow()
        async with self._sessions.begin() as session:
            await self._intents.commit(session, intent_ids)
            existing = {
                row.id: row
                for row in (
                    await session.execute(
                        select(DocumentRow)
                        .where(
                            DocumentRow.kb_id == kb.id,
                            DocumentRow.id.in_([document.id for document in documents]),
                        )
                        .with_for_update()
                    )
                ).scalars()
            }
            self._intents.obsolete(
                session,
                kb,
                [ChunkSet(row.id, row.generation, row.chunk_count) for row in existing.values()],
            )
            for document in documents:
                row = existing.get(document.id)
                if row is None:
                    row = DocumentRow(kb_id=kb.id, id=document.id, created_at=now)
                    session.add(row)
                row.title = document.title
                row.source = document.source or ""
                row.content_type = document.content_type
                row.metadata_ = document.metadata
                row.content_sha256 = document.sha256
                row.size_bytes = document.size_bytes
                row.chunk_count = len(document.chunks)
                row.generation = generation
                row.updated_at = now
            await session.flush()
            await self._recount(session, kb, {key for d in documents for key in d.metadata})
        self._changed()
        return set(existing)

    async def _recount(self, session: Any, kb: KnowledgeBaseRow, new_fields: set[str]) -> None:
        counts = (
            await session.execute(
                select(func.count(), func.coalesce(func.sum(DocumentRow.chunk_count), 0)).where(
                    DocumentRow.kb_id == kb.id
                )
            )
        ).one()
        row = await session.get(KnowledgeBaseRow, kb.id)
        if row is None:
            return
        row.document_count, row.chunk_count = int(counts[0]), int(counts[1])
        if not new_fields <= set(row.metadata_fields):
            row.metadata_fields = sorted({*row.metadata_fields, *new_fields})
        row.updated_at = utcnow()
        kb.metadata_fields = row.metadata_fields

    async def list(
        self, kb: KnowledgeBaseRow, *, limit: int = 100, after: str | None = None
    ) -> DocumentList:
        query = select(DocumentRow).where(DocumentRow.kb_id == kb.id).order_by(DocumentRow.id)
        if after is not None:
            query = query.where(DocumentRow.id > after)
        async with self._sessions() as session:
            rows = (await session.execute(query.limit(limit + 1))).scalars().all()
        page = [to_document(row) for row in rows[:limit]]
        more = len(rows) > limit
        return DocumentList(data=page, has_more=more, next_after=page[-1].id if more else None)

    async def get(self, kb: KnowledgeBaseRow, document_id: str) -> Document:
        async with self._sessions() as session:
            row = await session.get(DocumentRow, (kb.id, document_id))
        if row is None:
            raise NotFoundError(
                f"No document '{document_id}' in this knowledge base.", param="document_id"
            )
        return to_document(row)

    async def delete(self, kb: KnowledgeBaseRow, document_id: str) -> None:
        """Delete the row and mark its chunks obsolete in one transaction, then remove them
        (a crash in between leaves them to the next sweep; searches no longer return them)."""
        self._writable(kb)
        async with self._locks.setdefault(kb.id, asyncio.Lock()):
            async with self._sessions.begin() as session:
                row = (
                    await session.execute(
                        select(DocumentRow)
                        .where(DocumentRow.kb_id == kb.id, DocumentRow.id == document_id)
                        .with_for_update()
                    )
                ).scalar_one_or_none()
                if row is None:
                    raise NotFoundError(
                        f"No document '{document_id}' in this knowledge base.",
                        param="document_id",
                    )
                self._intents.obsolete(
                    session, kb, [ChunkSet(row.id, row.generation, row.chunk_count)]
                )
                await session.delete(row)
                await session.flush()
                await self._recount(session, kb, set())
            self._changed()
            await self._intents.tidy(kb.id)


def _fingerprint(row: DocumentRow) -> dict[str, Any]:
    return {
        "sha256": row.content_sha256,
        "title": row.title,
        "source": row.source,
        "content_type": row.content_type,
        "metadata": row.metadata_,
    }
