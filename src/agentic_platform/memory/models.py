"""Tables of the memory gateway: sessions, their messages, extraction progress, memories.

A message's ``position`` is its turn number in the session, gapless and unique (the append
computes it in the same INSERT), so a per-session high-water mark of positions is a safe
cursor for the background worker: it can never skip a turn that commits late.

Long-term memories outlive the sessions they came from: ``memory_sources`` names the source
turns by id without a foreign key, and an expired turn simply shows no content.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from agentic_platform.db.base import Base, UTCDateTime, utcnow


class SessionRow(Base):
    """A conversation of one user with one agent."""

    __tablename__ = "memory_sessions"
    __table_args__ = (Index("ix_memory_sessions_owner_created", "owner_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("principals.id"))
    team_id: Mapped[str] = mapped_column(String(64))
    agent_id: Mapped[str] = mapped_column(String(200))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MessageRow(Base):
    """One turn. Appended, never rewritten."""

    __tablename__ = "memory_messages"
    __table_args__ = (
        UniqueConstraint("session_id", "position", name="uq_memory_messages_session_position"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("memory_sessions.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(200), default=None)
    content: Mapped[str] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class ExtractionRow(Base):
    """How far the worker has indexed and extracted a session, and how the last run went.

    Both marks only move forward, with a compare-and-set, so two replicas that pick the same
    session never store a batch twice; the extraction claim keeps them from even calling the
    model twice for it (the user would pay for both)."""

    __tablename__ = "memory_extraction"

    session_id: Mapped[str] = mapped_column(
        ForeignKey("memory_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    indexed_through: Mapped[int] = mapped_column(Integer, default=0)
    extracted_through: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="idle")
    model: Mapped[str | None] = mapped_column(String(200), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    """No worker starts an extraction run before this: one is running (a lease, so a crashed
    run is taken over) or the last failed and waits out its backoff."""
    memories_added: Mapped[int] = mapped_column(Integer, default=0)
    memories_updated: Mapped[int] = mapped_column(Integer, default=0)
    memories_deleted: Mapped[int] = mapped_column(Integer, default=0)


class MemoryRow(Base):
    """A long-term memory of one user (optionally tied to one agent)."""

    __tablename__ = "memories"
    __table_args__ = (
        Index("ix_memories_owner_updated", "owner_id", "updated_at"),
        Index("ix_memories_owner_hash", "owner_id", "content_hash"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("principals.id"))
    team_id: Mapped[str] = mapped_column(String(64))
    agent_id: Mapped[str | None] = mapped_column(String(200), default=None)
    session_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    type: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    origin: Mapped[str] = mapped_column(String(16))
    indexed: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MemorySourceRow(Base):
    """A turn a memory was drawn from."""

    __tablename__ = "memory_sources"

    memory_id: Mapped[str] = mapped_column(
        ForeignKey("memories.id", ondelete="CASCADE"), primary_key=True
    )
    message_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer)
