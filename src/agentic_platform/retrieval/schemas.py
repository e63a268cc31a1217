"""Request and response shapes of the retrieval API (``/retrieval/v1``)."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agentic_platform.retrieval.chunking import ChunkingSettings
from agentic_platform.search.backends.base import SearchMode
from agentic_platform.search.filters import (
    FIELD_NAME,
    Filter,
    FiniteFloat,
    Scalar,
    check_representable,
)

BackendName = Literal["sqlite", "pgvector", "memory", "bedrock"]
JobStatus = Literal["queued", "running", "succeeded", "partial", "failed"]
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$"
DOCUMENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:/@\-]{0,199}$"
GroupBy = Literal["chunk", "document"]
MAX_PASSAGES = 5
MAX_NEIGHBOURS = 5
BUILTIN_FIELDS = ("document_id", "source", "content_type")
"""Filterable fields every chunk has; a document's own metadata may not use these names."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KnowledgeBaseCreate(_Strict):
    name: str = Field(pattern=NAME_PATTERN, description="Unique within the team.")
    description: str = Field(default="", max_length=2000)
    embedding_model: str | None = Field(
        default=None, min_length=1, description="Catalog alias; default from settings."
    )
    backend: BackendName | None = Field(default=None, description="Default from settings.")
    bedrock_knowledge_base_id: str | None = Field(
        default=None, min_length=1, description="The Bedrock knowledge base (bedrock backend)."
    )
    chunking: ChunkingSettings = Field(default_factory=ChunkingSettings)
    rerank_model: str | None = Field(
        default=None,
        min_length=1,
        description="A rerank model alias its searches use unless a request says otherwise.",
    )

    @model_validator(mode="after")
    def _bedrock_needs_its_id(self) -> KnowledgeBaseCreate:
        if (self.backend == "bedrock") != (self.bedrock_knowledge_base_id is not None):
            raise ValueError(
                "bedrock_knowledge_base_id is required with backend 'bedrock' and only then"
            )
        return self


class KnowledgeBase(BaseModel):
    object: Literal["knowledge_base"] = "knowledge_base"
    id: str
    name: str
    description: str
    team_id: str
    embedding_model: str
    dimensions: int | None
    backend: BackendName
    chunking: ChunkingSettings
    rerank_model: str | None = Field(default=None, description="Its searches' rerank model.")
    metadata_fields: list[str] = Field(description="Fields a filter may name.")
    document_count: int
    chunk_count: int
    created_at: datetime
    updated_at: datetime


class KnowledgeBaseList(BaseModel):
    object: Literal["list"] = "list"
    data: list[KnowledgeBase]


class DocumentIn(_Strict):
    """A document to ingest: ``text`` for text formats, or ``content_base64`` (any format)."""

    id: str | None = Field(
        default=None,
        pattern=DOCUMENT_ID_PATTERN,
        description="Stable id; ingesting the same id again replaces the document. "
        "Default: derived from the content.",
    )
    text: str | None = Field(default=None, description="The content, for text formats.")
    content_base64: str | None = Field(default=None, description="The content, base64-encoded.")
    content_type: str = Field(
        default="text/plain",
        description="text/plain, text/markdown, text/html or application/pdf.",
    )
    title: str | None = Field(default=None, max_length=1000)
    source: str | None = Field(
        default=None, min_length=1, max_length=2000, description="Where it came from (a path)."
    )
    metadata: dict[str, Scalar | list[Scalar]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_content(self) -> DocumentIn:
        if self.text is not None and self.content_base64 is not None:
            raise ValueError("give at most one of 'text' and 'content_base64'")
        if self.text is None and self.content_base64 is None and not self.title:
            raise ValueError("give 'text' or 'content_base64' (or at least a 'title')")
        return self

    @field_validator("metadata")
    @classmethod
    def _plain_keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if not FIELD_NAME.match(key):
                raise ValueError(f"metadata key '{key}' must match {FIELD_NAME.pattern}")
            if key in BUILTIN_FIELDS:
                raise ValueError(f"metadata key '{key}' is reserved")
        for key, item in value.items():
            try:
                check_representable(item)
            except ValueError as exc:
                raise ValueError(f"metadata '{key}': {exc}") from None
        return value

    def content(self) -> bytes:
        """The bytes to index; a document with only a title is its title."""
        if self.text is not None:
            return self.text.encode("utf-8")
        if self.content_base64 is None:
            return (self.title or "").encode("utf-8")
        try:
            return base64.b64decode(self.content_base64 or "", validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("content_base64 is not valid base64") from None


class IngestRequest(_Strict):
    documents: list[DocumentIn] = Field(min_length=1)


class DocumentResult(BaseModel):
    id: str
    status: Literal["created", "replaced", "unchanged"]
    chunk_count: int


class IngestResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[DocumentResult]


class Document(BaseModel):
    object: Literal["document"] = "document"
    id: str
    title: str
    source: str | None = Field(description="Where it came from; null when not given.")
    content_type: str
    metadata: dict[str, Any]
    size_bytes: int
    chunk_count: int
    created_at: datetime
    updated_at: datetime


class DocumentList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Document]
    has_more: bool
    next_after: str | None = Field(description="Pass as `after` for the next page.")


class JobError(BaseModel):
    index: int = Field(description="The document's position in the job's request.")
    document_id: str | None
    code: str | None
    message: str


class IngestJob(BaseModel):
    object: Literal["ingest_job"] = "ingest_job"
    id: str
    knowledge_base_id: str
    status: JobStatus
    total: int
    succeeded: int
    failed: int
    errors: list[JobError]
    attempts: int = Field(
        description="Runs of the job so far: more than 1 when a crash interrupted it and it "
        "was resumed (a run a clean stop handed over to another replica does not count)."
    )
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class RetrieveRequest(_Strict):
    query: str = Field(min_length=1, max_length=8000)
    top_k: int = Field(
        default=10,
        ge=1,
        le=1_000_000,
        description="At most retrieval.max_top_k (1000 by default). With "
        '`group_by: "document"`, how many distinct documents.',
    )
    group_by: GroupBy = Field(
        default="chunk",
        description="`document`: the best `top_k` distinct documents, each with its best "
        "passages (field collapsing); `chunk`: the best chunks, several may share a document.",
    )
    passages: int = Field(
        default=1,
        ge=1,
        le=MAX_PASSAGES,
        description='With `group_by: "document"`: how many of each document\'s best chunks.',
    )
    neighbours: int = Field(
        default=0,
        ge=0,
        le=MAX_NEIGHBOURS,
        description='With `group_by: "document"`: the chunks this many positions before '
        "and after each passage, as context.",
    )
    rerank: bool | str | None = Field(
        default=None,
        description="Rerank the candidates with a rerank model: a catalog alias, true for the "
        "knowledge base's (or the platform's) default, false for none. Default: the knowledge "
        "base's `rerank_model`, if it has one.",
    )
    search_type: SearchMode = "hybrid"
    filter: Filter | None = None
    min_score: FiniteFloat | None = None
    embedding_model: str | None = Field(
        default=None,
        description="The embedding model the caller expects; refused if the knowledge base "
        "uses another.",
    )

    @model_validator(mode="after")
    def _grouping_options(self) -> RetrieveRequest:
        if self.group_by == "chunk" and (self.passages != 1 or self.neighbours):
            raise ValueError("'passages' and 'neighbours' need group_by 'document'")
        if self.rerank == "":
            raise ValueError("'rerank' names a model alias, or is true or false")
        return self


class MultiRetrieveRequest(RetrieveRequest):
    knowledge_bases: list[str] = Field(min_length=1, max_length=20)


class RetrievedChunk(BaseModel):
    id: str
    score: float
    text: str
    document_id: str | None
    knowledge_base_id: str
    position: int | None
    location: dict[str, Any]
    title: str | None
    metadata: dict[str, Any]


class NeighbourChunk(BaseModel):
    """A chunk next to a passage, for context (not itself a hit)."""

    id: str
    position: int
    text: str
    location: dict[str, Any]


class RetrievedDocument(BaseModel):
    object: Literal["document"] = "document"
    id: str
    knowledge_base_id: str
    score: float = Field(description="Its best passage's score.")
    title: str | None
    source: str | None
    metadata: dict[str, Any]
    passages: list[RetrievedChunk] = Field(description="Its best chunks, best first.")
    neighbours: list[NeighbourChunk] = Field(
        description="Chunks around the passages (with `neighbours`), in document order."
    )


class RetrieveResponse(BaseModel):
    object: Literal["list"] = "list"
    search_type: SearchMode
    data: list[RetrievedChunk] = Field(
        description='The best chunks; with `group_by: "document"`, each document\'s best '
        "passage, so every entry is another document."
    )
    documents: list[RetrievedDocument] | None = Field(
        default=None, description='With `group_by: "document"`: the documents, best first.'
    )
    reranked_by: str | None = Field(
        default=None, description="The rerank model that ordered the results, if any."
    )
