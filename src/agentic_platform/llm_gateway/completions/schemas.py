"""The wire shapes of the legacy completions API (``POST /llm/v1/completions``): a prompt in,
text out. Clients still call it by default (LlamaIndex's ``OpenAILike``), so the gateway
serves it on every chat model, the prompt sent as one user message."""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agentic_platform.llm_gateway.schemas import (
    MAX_OUTPUT_TOKENS,
    FinishReason,
    StreamOptions,
    Usage,
)

MAX_PROMPTS = 16


def _prompts(value: Any) -> str | list[str]:
    """A string or a list of strings; token ids are refused by name (a union's error would
    list every member)."""
    if isinstance(value, str):
        if not value:
            raise ValueError("prompt must not be empty")
        return value
    if isinstance(value, list) and value and all(isinstance(item, str) and item for item in value):
        if len(value) > MAX_PROMPTS:
            raise ValueError(f"prompt may hold at most {MAX_PROMPTS} strings")
        return list(value)
    if isinstance(value, list) and value and all(isinstance(item, int | list) for item in value):
        raise ValueError("prompt as token ids is not supported: send the prompt as text")
    raise ValueError("prompt must be a non-empty string or a list of non-empty strings")


class CompletionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1)
    prompt: str | list[str] = Field(description="A string, or a list of strings (one choice each).")
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_OUTPUT_TOKENS)
    temperature: float | None = Field(default=None, ge=0, le=2, allow_inf_nan=False)
    top_p: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    seed: int | None = Field(default=None, ge=-(2**63), le=2**63 - 1)
    user: str | None = None
    presence_penalty: float | None = Field(default=None, ge=-2, le=2, allow_inf_nan=False)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2, allow_inf_nan=False)
    n: int | None = Field(default=None, ge=1, le=1, description="Only one choice a prompt.")
    best_of: int | None = Field(default=None, ge=1, le=1, description="Only 1.")
    echo: Literal[False] | None = Field(default=None, description="Only false.")
    suffix: None = Field(default=None, description="Not supported.")
    logprobs: None = Field(default=None, description="Not supported.")

    @field_validator("prompt", mode="plain", json_schema_input_type=str | list[str])
    @classmethod
    def _prompt_shape(cls, value: Any) -> str | list[str]:
        return _prompts(value)

    @model_validator(mode="after")
    def _one_prompt_streamed(self) -> CompletionRequest:
        if self.stream and len(self.prompts) > 1:
            raise ValueError("a streamed completion takes one prompt: send the others apart")
        return self

    @property
    def prompts(self) -> list[str]:
        return [self.prompt] if isinstance(self.prompt, str) else self.prompt


class CompletionChoice(BaseModel):
    index: int = 0
    text: str
    logprobs: None = None
    finish_reason: FinishReason | None = "stop"


def new_completion_id() -> str:
    return f"cmpl-{uuid.uuid4().hex}"


class Completion(BaseModel):
    id: str = Field(default_factory=new_completion_id)
    object: Literal["text_completion"] = "text_completion"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None = None
    system_fingerprint: str | None = None
