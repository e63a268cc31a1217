"""Shapes of the agent API (``/agents/v1``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agentic_platform.agents.events import Usage
from agentic_platform.agents.protocol import AgentKind
from agentic_platform.agents.records import StepRecord, ToolCallRecord
from agentic_platform.llm_gateway.schemas import ContentPart, message_text

RunStatus = Literal["running", "succeeded", "failed", "cancelled"]
MAX_KNOWLEDGE_BASES = 20


class AgentCard(BaseModel):
    name: str
    description: str
    kind: AgentKind
    input_schema: dict[str, Any]
    tools: list[str]


class AgentList(BaseModel):
    data: list[AgentCard]


class InvokeRequest(BaseModel):
    """``POST /agents/v1/{name}/invoke`` and ``/stream``."""

    model_config = ConfigDict(extra="forbid")

    message: str | list[ContentPart] = Field(
        description="What the user says: text, or OpenAI-style content parts "
        '([{"type": "text", "text": "..."}, {"type": "image_url", ...}]).'
    )
    session_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Continue this conversation (yours); a new one is started when absent.",
    )
    knowledge_base: str | None = Field(
        default=None, min_length=1, max_length=200, description="Ground the answer in this one."
    )
    knowledge_bases: list[str] | None = Field(
        default=None,
        max_length=MAX_KNOWLEDGE_BASES,
        description="Ground the answer in these knowledge bases (with knowledge_base, both).",
    )
    metadata: dict[str, Any] = Field(
        default_factory=dict, description="Free-form JSON object, kept with the run."
    )

    @field_validator("message")
    @classmethod
    def _has_text(cls, value: str | list[Any]) -> str | list[Any]:
        if isinstance(value, list) and not value:
            raise ValueError("give the message as text or at least one content part")
        if not message_text(value).strip():
            raise ValueError("the message needs some text (not only spaces)")
        return value

    @model_validator(mode="after")
    def _names_not_blank(self) -> InvokeRequest:
        for name in self.all_knowledge_bases:
            if not name.strip() or len(name) > 200:
                raise ValueError("knowledge base names are 1 to 200 characters")
        return self

    @property
    def text(self) -> str:
        return message_text(self.message)

    @property
    def all_knowledge_bases(self) -> list[str]:
        names = [self.knowledge_base] if self.knowledge_base else []
        names.extend(name for name in self.knowledge_bases or [] if name not in names)
        return names


class RunResult(BaseModel):
    """What an invocation answers: the final message and how the run got there."""

    run_id: str
    agent: str
    session_id: str | None
    status: RunStatus
    output: str = Field(description="The final message's text.")
    message: dict[str, Any] = Field(description='The final message: {"role": "assistant", ...}.')
    tool_calls: list[ToolCallRecord]
    steps: list[StepRecord]
    usage: Usage
    cost_usd: float
    started_at: datetime
    duration_ms: float
    trace_id: str | None = Field(
        default=None, description="The run's trace id (32 hex digits); null with telemetry off."
    )


class RunStepOut(StepRecord):
    detail: dict[str, Any] = Field(
        default_factory=dict,
        description="A tool step's call_id, arguments, result and is_error (texts cut to "
        "4,000 characters).",
    )


class RunRecordOut(BaseModel):
    """A run as recorded: who ran which agent, how it ended and what it used."""

    id: str
    agent: str
    user_id: str
    team_id: str
    acting_via: str | None = Field(description="The service that called for the user, if any.")
    session_id: str | None
    status: RunStatus
    error_code: str | None
    error: str | None = Field(description="Why the run failed or was cancelled.")
    model: str
    usage: Usage
    cost_usd: float
    model_calls: int
    tool_calls: int
    metadata: dict[str, Any]
    started_at: datetime
    finished_at: datetime | None
    duration_ms: float | None
    trace_id: str | None = Field(
        default=None, description="The run's trace id (32 hex digits); null with telemetry off."
    )


class RunDetail(RunRecordOut):
    steps: list[RunStepOut]


class RunList(BaseModel):
    data: list[RunRecordOut] = Field(description="Newest first.")
    has_more: bool
