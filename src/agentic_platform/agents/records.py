"""What a run keeps of itself while it runs: its steps and tool calls, its usage and cost.

The same shapes are the invoke answer's ``steps`` and ``tool_calls`` and the stored run
record's steps, so what a caller is told and what is recorded never differ.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from agentic_platform.agents.events import Usage

StepKind = Literal["model", "tool", "step"]
"""``model``: one model call; ``tool``: one tool call; ``step``: a named workflow step."""


class StepRecord(BaseModel):
    index: int = Field(description="Order in the run, from 0 (by start).")
    kind: StepKind
    name: str = Field(description="The model alias, the tool or the workflow step.")
    started_at: datetime
    duration_ms: float
    usage: Usage = Field(default_factory=Usage)
    cost_usd: float = 0.0
    error: str | None = Field(default=None, description="Why it failed, if it did.")


class ToolCallRecord(BaseModel):
    call_id: str
    name: str
    arguments: str = Field(description="The arguments as the model wrote them (JSON text).")
    result: str = Field(description="What the model was given back.")
    is_error: bool
    duration_ms: float
