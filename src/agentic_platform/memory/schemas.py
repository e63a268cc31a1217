"""Shapes of the memory API (``/memory/v1``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from agentic_platform.search.filters import Filter

Role = Literal["user", "assistant", "system", "tool"]
MemoryType = Literal["preference", "fact", "event", "instruction"]
SearchMode = Literal["hybrid", "semantic", "lexical"]
ExtractionState = Literal["idle", "pending", "running", "succeeded", "failed", "disabled"]

MESSAGE_TYPE = "message"
"""The ``type`` search results of raw turns carry (memories carry a :data:`MemoryType`)."""

_METADATA_DESCRIPTION = "Free-form JSON object, returned as stored."


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True, populate_by_name=True)


def _utc(value: datetime | None) -> datetime | None:
    """The time in UTC; one that has no UTC equivalent (year 1 east of UTC, year 9999 west of
    it) is refused like any other bad value."""
    if value is None:
        return None
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is out of range once converted to UTC") from None


# --- sessions --------------------------------------------------------------------------


class SessionCreate(_In):
    agent_id: str = Field(
        min_length=1, max_length=200, description="The agent this conversation is with."
    )
    metadata: dict[str, Any] = Field(default_factory=dict, description=_METADATA_DESCRIPTION)
    user_id: str | None = Field(
        default=None, description="Owner of the session (admins only); defaults to the caller."
    )


class SessionOut(_Out):
    id: str
    user_id: str = Field(validation_alias="owner_id")
    agent_id: str
    metadata: dict[str, Any] = Field(validation_alias="metadata_")
    created_at: datetime


class SessionList(BaseModel):
    data: list[SessionOut]
    has_more: bool


# --- messages --------------------------------------------------------------------------


class MessageCreate(_In):
    role: Role = Field(description="Who spoke.")
    content: str = Field(min_length=1, description="What was said (plain text).")
    name: str | None = Field(
        default=None, min_length=1, max_length=200, description="The speaker's name, if any."
    )
    metadata: dict[str, Any] = Field(default_factory=dict, description=_METADATA_DESCRIPTION)
    occurred_at: AwareDatetime | None = Field(
        default=None,
        description="When it was said, if not now (e.g. importing a history); with a zone.",
    )

    @field_validator("content")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a message needs some text (not only spaces)")
        return value

    @field_validator("occurred_at")
    @classmethod
    def _to_utc(cls, value: datetime | None) -> datetime | None:
        return _utc(value)


class MessageOut(_Out):
    id: str
    session_id: str
    position: int = Field(description="Turn number in the session, from 1, without gaps.")
    role: str
    name: str | None
    content: str
    metadata: dict[str, Any] = Field(validation_alias="metadata_")
    occurred_at: datetime | None
    created_at: datetime


class MessageList(BaseModel):
    data: list[MessageOut] = Field(description="Oldest first.")
    has_more: bool = Field(description="More turns lie beyond this page in its direction.")


class ExtractionStatus(BaseModel):
    session_id: str
    enabled: bool = Field(description="Whether a model is configured to extract memories.")
    model: str | None
    status: ExtractionState
    last_position: int = Field(description="Position of the session's latest turn.")
    indexed_through: int = Field(description="Turns searchable as raw messages, up to here.")
    extracted_through: int = Field(description="Turns read by the extraction model, up to here.")
    pending_turns: int
    attempts: int = Field(description="Failed tries of the current batch.")
    last_run_at: datetime | None
    last_error: str | None = Field(description="Why the latest failed run failed.")
    last_error_at: datetime | None
    memories_added: int = Field(description="By the latest successful run.")
    memories_updated: int
    memories_deleted: int


# --- memories --------------------------------------------------------------------------


class MemoryCreate(_In):
    text: str = Field(min_length=1, max_length=4000, description="One self-contained memory.")
    type: MemoryType = Field(default="fact")
    agent_id: str | None = Field(
        default=None, max_length=200, description="Tie the memory to one agent (else: any)."
    )
    occurred_at: AwareDatetime | None = Field(
        default=None, description="The time the memory refers to, if any."
    )
    metadata: dict[str, Any] = Field(default_factory=dict, description=_METADATA_DESCRIPTION)
    source_message_ids: list[str] = Field(
        default_factory=list, max_length=100, description="Turns (of the owner's) it came from."
    )
    user_id: str | None = Field(default=None, description="Owner (admins only).")

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a memory needs some text (not only spaces)")
        return value.strip()

    @field_validator("occurred_at")
    @classmethod
    def _to_utc(cls, value: datetime | None) -> datetime | None:
        return _utc(value)


class MemoryUpdate(_In):
    """Only the fields sent change. ``text``, ``type`` and ``metadata`` may not be null (leave
    one out to keep it); ``occurred_at: null`` clears the time."""

    text: str | SkipJsonSchema[None] = Field(default=None, min_length=1, max_length=4000)
    type: MemoryType | SkipJsonSchema[None] = None
    occurred_at: AwareDatetime | None = None
    metadata: dict[str, Any] | SkipJsonSchema[None] = Field(
        default=None, description=_METADATA_DESCRIPTION
    )

    @field_validator("text", "type", "metadata", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may not be null (leave the field out to keep its value)")
        return value

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a memory needs some text (not only spaces)")
        return value.strip()

    @field_validator("occurred_at")
    @classmethod
    def _to_utc(cls, value: datetime | None) -> datetime | None:
        return _utc(value)


class SourceOut(BaseModel):
    """A turn a result came from; ``content`` is None once the turn is deleted or expired."""

    message_id: str
    session_id: str
    position: int
    role: str | None = None
    name: str | None = None
    content: str | None = None
    occurred_at: datetime | None = None
    metadata: dict[str, Any] | None = Field(
        default=None,
        description="The metadata the caller stored with the turn (its own ids, for example); "
        "None once the turn is deleted or expired.",
    )


class MemoryOut(BaseModel):
    id: str
    user_id: str
    agent_id: str | None
    session_id: str | None
    type: str = Field(description="preference, fact, event or instruction; 'message' for turns.")
    text: str
    occurred_at: datetime | None
    metadata: dict[str, Any]
    origin: str = Field(description="extracted, direct, or message (a raw turn).")
    created_at: datetime
    updated_at: datetime
    sources: list[SourceOut]


class MemoryList(BaseModel):
    data: list[MemoryOut]
    has_more: bool


class SearchRequest(_In):
    query: str = Field(min_length=1, max_length=4000, description="What to recall.")
    top_k: int | None = Field(
        default=None, ge=1, le=1000, description="How many results (default 10)."
    )
    filter: Filter | None = Field(
        default=None,
        description="The platform filter grammar over agent_id, type, session_id, role, "
        "origin and time (ISO 8601 UTC text, e.g. gte '2024-01-01').",
    )
    mode: SearchMode = Field(default="hybrid")
    min_score: float | None = Field(default=None, description="Drop results scoring less.")
    user_id: str | None = Field(default=None, description="Whose memories (admins only).")

    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the query needs some text (not only spaces)")
        return value


class SearchHitOut(MemoryOut):
    score: float


class SearchResponse(BaseModel):
    data: list[SearchHitOut] = Field(description="Best first; each with its source turns.")
