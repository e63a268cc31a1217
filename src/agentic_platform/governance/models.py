"""Tables for usage plans and the usage ledger."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from agentic_platform.db.base import Base, UTCDateTime, utcnow


class PlanRow(Base):
    __tablename__ = "plans"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(String(2000), default="")
    allowed_models: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    requests_per_minute: Mapped[int | None] = mapped_column(Integer, default=None)
    input_tokens_per_minute: Mapped[int | None] = mapped_column(Integer, default=None)
    output_tokens_per_minute: Mapped[int | None] = mapped_column(Integer, default=None)
    max_concurrent_requests: Mapped[int | None] = mapped_column(Integer, default=None)
    budget_usd_per_day: Mapped[float | None] = mapped_column(Float, default=None)
    budget_usd_per_month: Mapped[float | None] = mapped_column(Float, default=None)
    model_overrides: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class UsageRow(Base):
    """One row per gateway request, written by the usage ledger."""

    __tablename__ = "usage_records"
    __table_args__ = (
        Index("ix_usage_records_team_time", "team_id", "time"),
        Index("ix_usage_records_principal_time", "principal_id", "time"),
    )

    request_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    time: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    principal_id: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(64), default=None)
    team_id: Mapped[str] = mapped_column(String(64))
    acting_via: Mapped[str | None] = mapped_column(String(64), default=None)
    endpoint: Mapped[str] = mapped_column(String(32), default="chat")
    model: Mapped[str] = mapped_column(String(200))
    deployment: Mapped[str | None] = mapped_column(String(300), default=None)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cached_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    status: Mapped[int] = mapped_column(Integer)
    error_type: Mapped[str | None] = mapped_column(String(64), default=None)
    streamed: Mapped[bool] = mapped_column(Boolean, default=False)
