"""Document ingestion: load, chunk, embed, index — as a pipeline that keeps the embedder busy.

Three stages run at once: preparing documents (parsing and chunking, in a worker thread),
embedding batches of chunks (a few gateway calls in flight, batches mixing the chunks of
several small documents), and writing finished documents to the search backend and the
database. So ingestion runs at nearly the embedder's own speed.

A document that fails (unreadable, empty, refused by the embedder) fails alone: the others
go on, and the failure is reported with the document's position.

Writing is idempotent and crash-safe: each write of a document puts its chunks in the
backend under a new generation and commits the document row naming it, after which the
previous generation is removed (see :mod:`.intents`); a document whose content and metadata
did not change is not embedded again.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agentic_platform.errors import InvalidRequestError, PayloadTooLargeError, PlatformError
from agentic_platform.retrieval.chunking import Chunk, ChunkingSettings, chunk_sections
from agentic_platform.retrieval.intents import chunk_id
from agentic_platform.retrieval.loaders import load_document
from agentic_platform.retrieval.schemas import DocumentIn, DocumentResult
from agentic_platform.search.backends.base import IndexRecord
from agentic_platform.search.embedding import FloatArray, GatewayEmbedder

Outcome = DocumentResult | PlatformError
Report = Callable[[int, Outcome], Awaitable[None]]


@dataclass
class PreparedDocument:
    """A parsed and chunked document, ready to embed."""

    index: int
    id: str
    title: str
    source: str | None
    content_type: str
    metadata: dict[str, Any]
    sha256: str
    size_bytes: int
    chunks: list[Chunk]
    context: list[str] = field(default_factory=list)

    def embedding_texts(self) -> list[str]:
        return [
            f"{context}\n{chunk.text}" if context else chunk.text
            for chunk, context in zip(self.chunks, self.context, strict=True)
        ]

    def fingerprint(self) -> dict[str, Any]:
        """What must match for a re-ingested document to count as unchanged."""
        return {
            "sha256": self.sha256,
            "title": self.title,
            "source": self.source or "",
            "content_type": self.content_type,
            "metadata": self.metadata,
        }

    def records(self, vectors: FloatArray, generation: str) -> list[IndexRecord]:
        builtin = {"document_id": self.id, "content_type": self.content_type}
        if self.source is not None:
            builtin["source"] = self.source
        return [
            IndexRecord(
                id=chunk_id(self.id, chunk.position, generation),
                text=chunk.text,
                vector=vector,
                metadata={**self.metadata, **builtin},
                payload={
                    "position": chunk.position,
                    "location": chunk.location(),
                    "title": self.title,
                    "generation": generation,
                },
                context=context,
            )
            for chunk, context, vector in zip(self.chunks, self.context, vectors, strict=True)
        ]


def prepare_document(
    index: int, document: DocumentIn, chunking: ChunkingSettings, max_bytes: int
) -> PreparedDocument:
    """Decode, parse and chunk one document (CPU work: run it in a thread)."""
    try:
        content = document.content()
    except ValueError as exc:
        raise InvalidRequestError(str(exc), param="content_base64", code="bad_content") from None
    if len(content) > max_bytes:
        raise PayloadTooLargeError(
            f"The document is {len(content)} bytes; the limit is {max_bytes}.",
            param="content",
        )
    loaded = load_document(content, document.content_type)
    if not chunking.markdown_headings:
        loaded = type(loaded)(
            [type(s)(s.text, s.offset, (), s.page) for s in loaded.sections], loaded.title
        )
    chunks = chunk_sections(loaded.sections, chunking)
    if not chunks:
        raise InvalidRequestError(
            "The document has no text to index.", param="content", code="empty_document"
        )
    digest = hashlib.sha256(content).hexdigest()
    title = document.title if document.title is not None else loaded.title
    return PreparedDocument(
        index=index,
        id=document.id or f"doc_{digest[:32]}",
        title=title,
        source=document.source,
        content_type=document.content_type.split(";")[0].strip().lower(),
        metadata=dict(document.metadata),
        sha256=digest,
        size_bytes=len(content),
        chunks=chunks,
        context=[" > ".join(part for part in (title, *c.headings) if part) for c in chunks],
    )


@dataclass(eq=False)
class _Pending:
    """A document whose chunks are being embedded."""

    document: PreparedDocument
    vectors: list[FloatArray | None]
    missing: int
    error: PlatformError | None = None


Writer = Callable[[list[tuple[PreparedDocument, FloatArray]]], Awaitable[list[Outcome]]]
Unchanged = Callable[[PreparedDocument], Awaitable[bool]]


class IngestPipeline:
    """Runs the three stages for one batch of documents; see the module docstring."""

    def __init__(
        self, embedder: GatewayEmbedder, write: Writer, unchanged: Unchanged, concurrency: int
    ) -> None:
        self._embedder = embedder
        self._write = write
        self._unchanged = unchanged
        self._concurrency = concurrency
        self._batches: asyncio.Queue[list[tuple[_Pending, int, str]] | None] = asyncio.Queue(
            maxsize=2 * concurrency
        )
        self._ready: asyncio.Queue[_Pending | None] = asyncio.Queue()

    async def run(
        self, documents: AsyncIterator[PreparedDocument | tuple[int, PlatformError]], report: Report
    ) -> None:
        # A task group: an unexpected failure in any stage stops the others (no stage is
        # left waiting on a queue nobody serves) and reaches the caller.
        async with asyncio.TaskGroup() as stages:
            embedders = [stages.create_task(self._embed()) for _ in range(self._concurrency)]
            stages.create_task(self._write_ready(report))
            await self._produce(documents, report)
            await asyncio.gather(*embedders)
            await self._ready.put(None)

    async def _produce(
        self,
        documents: AsyncIterator[PreparedDocument | tuple[int, PlatformError]],
        report: Report,
    ) -> None:
        batch: list[tuple[_Pending, int, str]] = []
        async for item in documents:
            if isinstance(item, tuple):
                await report(*item)
                continue
            if await self._unchanged(item):
                await report(
                    item.index,
                    DocumentResult(id=item.id, status="unchanged", chunk_count=len(item.chunks)),
                )
                continue
            pending = _Pending(item, [None] * len(item.chunks), len(item.chunks))
            for position, text in enumerate(item.embedding_texts()):
                batch.append((pending, position, text))
                if len(batch) == self._embedder.batch_size:
                    await self._batches.put(batch)
                    batch = []
        if batch:
            await self._batches.put(batch)
        for _ in range(self._concurrency):
            await self._batches.put(None)

    async def _embed(self) -> None:
        while (batch := await self._batches.get()) is not None:
            try:
                vectors = await self._embedder.embed_batch([text for _, _, text in batch])
            except PlatformError as error:
                vectors = None
                for pending, _, _ in batch:
                    pending.error = pending.error or error
            for row, (pending, position, _) in enumerate(batch):
                if vectors is not None:
                    pending.vectors[position] = vectors[row]
                pending.missing -= 1
                if pending.missing == 0:
                    await self._ready.put(pending)

    async def _write_ready(self, report: Report) -> None:
        finished = False
        while not finished:
            first = await self._ready.get()
            group = [first]
            while not self._ready.empty():
                group.append(self._ready.get_nowait())
            finished = any(pending is None for pending in group)
            done = [pending for pending in group if pending is not None]
            await self._flush(done, report)

    async def _flush(self, done: list[_Pending], report: Report) -> None:
        ready = []
        for pending in done:
            if pending.error is not None:
                await report(pending.document.index, pending.error)
            else:
                ready.append((pending.document, np.stack(_present(pending.vectors))))
        if not ready:
            return
        try:
            outcomes = await self._write(ready)
        except PlatformError as error:
            outcomes = [error] * len(ready)
        for (document, _), outcome in zip(ready, outcomes, strict=True):
            await report(document.index, outcome)


def _present(vectors: Iterable[FloatArray | None]) -> list[FloatArray]:
    return [vector for vector in vectors if vector is not None]
