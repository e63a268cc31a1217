"""The table the embedded SQLite backend keeps its records in (one row per record)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from agentic_platform.db.base import Base


class SearchRecordRow(Base):
    """A record of a collection: its texts, its vector as little-endian float32 bytes, its
    filterable metadata (JSON, queried with SQLite's JSON functions) and its payload."""

    __tablename__ = "search_records"

    collection: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    context: Mapped[str] = mapped_column(Text, default="")
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
