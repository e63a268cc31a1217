"""The events of an agent run, as ``POST /agents/v1/{name}/stream`` sends them.

Every event is a JSON object with a ``type``; over server-sent events the ``event:`` line
carries the same name. A run sends ``run_started`` first and ends with exactly one of
``run_finished`` (it succeeded) or ``error`` (it failed; the run record says why); in between,
text deltas, tool calls and workflow steps in the order they happen.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field


class Usage(BaseModel):
    """Tokens a run (or one step of it) used, over every model call."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    def add(self, prompt_tokens: int, completion_tokens: int) -> None:
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        self.total_tokens = self.prompt_tokens + self.completion_tokens


class Event(BaseModel):
    """What every event has: its ``type``."""

    type: str


class RunStarted(Event):
    type: Literal["run_started"] = "run_started"
    run_id: str
    agent: str
    session_id: str | None = Field(description="The conversation this run belongs to.")
    trace_id: str | None = Field(default=None, description="The run's trace id, if traced.")


class TextDelta(Event):
    type: Literal["text_delta"] = "text_delta"
    text: str = Field(description="The next piece of a model's answer.")
    step: str | None = Field(default=None, description="The workflow step it belongs to.")


class ToolCallStarted(Event):
    type: Literal["tool_call_started"] = "tool_call_started"
    call_id: str
    name: str
    arguments: str = Field(description="The arguments as the model wrote them (JSON text).")


class ToolCallFinished(Event):
    type: Literal["tool_call_finished"] = "tool_call_finished"
    call_id: str
    name: str
    result: str = Field(description="What the model was given back (an error text on failure).")
    is_error: bool = Field(description="The tool failed, timed out or returned too much.")
    duration_ms: float


class StepStarted(Event):
    type: Literal["step_started"] = "step_started"
    name: str


class StepFinished(Event):
    type: Literal["step_finished"] = "step_finished"
    name: str
    duration_ms: float
    usage: Usage
    cost_usd: float
    error: str | None = Field(default=None, description="Why the step failed, if it did.")


class RunError(Event):
    type: Literal["error"] = "error"
    run_id: str
    message: str = Field(description="Why the run failed.")
    code: str | None = Field(description="A stable code, e.g. step_limit_reached, run_timeout.")
    status: int = Field(description="The HTTP status the same failure gets from /invoke.")


class RunFinished(Event):
    type: Literal["run_finished"] = "run_finished"
    run_id: str
    session_id: str | None
    output: str = Field(description="The final answer.")
    usage: Usage
    cost_usd: float
    duration_ms: float
    trace_id: str | None = Field(default=None, description="The run's trace id, if traced.")


AgentEvent = Annotated[
    RunStarted
    | TextDelta
    | ToolCallStarted
    | ToolCallFinished
    | StepStarted
    | StepFinished
    | RunError
    | RunFinished,
    Field(discriminator="type"),
]

EVENT_TYPES: tuple[str, ...] = (
    "run_started",
    "text_delta",
    "tool_call_started",
    "tool_call_finished",
    "step_started",
    "step_finished",
    "error",
    "run_finished",
)


def sse_frame(event: Event) -> bytes:
    """One event as a server-sent event: ``event: <type>`` then ``data: <json>``."""
    return f"event: {event.type}\ndata: ".encode() + event.model_dump_json().encode() + b"\n\n"
