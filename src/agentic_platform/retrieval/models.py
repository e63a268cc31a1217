"""Tables of the retrieval gateway: knowledge bases, their documents and ingestion jobs.

The chunks themselves live in the knowledge base's search backend (``search_records`` for
the embedded SQLite backend, a pgvector table, or Bedrock), one collection per knowledge base.
A document row names the *generation* of chunks that is its committed content; a write
intent names chunks that may exist in a backend without being anybody's committed content
(a write in flight, an old generation, a deleted document or knowledge base), so they can be
removed after a crash.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from agentic_platform.db.base import Base, UTCDateTime, utcnow


class KnowledgeBaseRow(Base):
    __tablename__ = "knowledge_bases"
    __table_args__ = (UniqueConstraint("team_id", "name", name="uq_knowledge_bases_team_name"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    embedding_model: Mapped[str] = mapped_column(String(200))
    dimensions: Mapped[int | None] = mapped_column(Integer, default=None)
    backend: Mapped[str] = mapped_column(String(32))
    backend_options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    chunking: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    metadata_fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    document_count: Mapped[int] = mapped_column(Integer, default=0)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def collection(self) -> str:
        """The search-backend collection holding the chunks (a Bedrock KB id for Bedrock)."""
        if self.backend == "bedrock":
            return str(self.backend_options["knowledge_base_id"])
        return self.id


class DocumentRow(Base):
    __tablename__ = "kb_documents"

    kb_id: Mapped[str] = mapped_column(
        ForeignKey("knowledge_bases.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    title: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(Text, default="")
    content_type: Mapped[str] = mapped_column(String(100))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    content_sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    chunk_count: Mapped[int] = mapped_column(Integer)
    generation: Mapped[str] = mapped_column(String(32), default="", server_default="")
    """The write that produced the chunks searches may return ("" for chunks written before
    generations existed)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IngestJobRow(Base):
    __tablename__ = "kb_ingest_jobs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kb_id: Mapped[str] = mapped_column(
        ForeignKey("knowledge_bases.id", ondelete="CASCADE"), index=True
    )
    principal_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    total: Mapped[int] = mapped_column(Integer)
    succeeded: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    owner: Mapped[str | None] = mapped_column(String(100), default=None)
    """The replica running the job (while its lease lasts)."""
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class IngestJobInputRow(Base):
    """The documents of an unfinished job, so another replica can resume it."""

    __tablename__ = "kb_job_inputs"

    job_id: Mapped[str] = mapped_column(
        ForeignKey("kb_ingest_jobs.id", ondelete="CASCADE"), primary_key=True
    )
    documents: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


class WriteIntentRow(Base):
    """Chunks that may be in a search backend without being committed content.

    ``writing``: a write in flight, which commits by deleting this row with its document
    row; once ``expires_at`` has passed, a sweep may claim it (making it ``obsolete``) and the
    write can no longer commit. ``obsolete``: to be deleted from the backend. Without a
    ``document_id`` it stands for the whole collection (a deleted knowledge base). No foreign
    key: it outlives the knowledge base it cleans up after.
    """

    __tablename__ = "kb_write_intents"
    __table_args__ = (Index("ix_kb_write_intents_kb_document", "kb_id", "document_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kb_id: Mapped[str] = mapped_column(String(64))
    backend: Mapped[str] = mapped_column(String(32))
    collection: Mapped[str] = mapped_column(String(200))
    document_id: Mapped[str | None] = mapped_column(String(200), default=None)
    generation: Mapped[str] = mapped_column(String(32), default="")
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
