"""The wire shapes of the Anthropic Messages API, as the gateway accepts and answers them.

Only what the gateway can carry to every provider is modelled; fields Anthropic added for its
own features (``thinking``, ``container``, ``mcp_servers``, ``service_tier``, cache control)
are accepted and ignored, as unknown fields are, so clients that send them keep working."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agentic_platform.llm_gateway.schemas import MAX_OUTPUT_TOKENS


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore")


# --- content blocks ------------------------------------------------------------------------


class TextBlock(_Wire):
    type: Literal["text"]
    text: str


class Base64Source(_Wire):
    type: Literal["base64"]
    media_type: str = Field(min_length=1, description="For example image/png.")
    data: str = Field(min_length=1)


class URLSource(_Wire):
    type: Literal["url"]
    url: str = Field(min_length=1)


class ImageBlock(_Wire):
    type: Literal["image"]
    source: Annotated[Base64Source | URLSource, Field(discriminator="type")]


class ToolUseBlock(_Wire):
    type: Literal["tool_use"]
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    input: dict[str, Any] = Field(default_factory=dict)


ToolResultPart = Annotated[TextBlock | ImageBlock, Field(discriminator="type")]


class ToolResultBlock(_Wire):
    type: Literal["tool_result"]
    tool_use_id: str = Field(min_length=1)
    content: str | list[ToolResultPart] = ""
    is_error: bool = False


class ThinkingBlock(_Wire):
    """Reasoning an earlier answer carried; accepted in the history and not forwarded."""

    type: Literal["thinking", "redacted_thinking"]


ContentBlock = Annotated[
    TextBlock | ImageBlock | ToolUseBlock | ToolResultBlock | ThinkingBlock,
    Field(discriminator="type"),
]


class InputMessage(_Wire):
    role: Literal["user", "assistant"]
    content: str | list[ContentBlock]


# --- tools ---------------------------------------------------------------------------------


class ToolDefinition(_Wire):
    name: str = Field(min_length=1, max_length=64)
    description: str | None = None
    input_schema: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})
    type: Literal["custom"] | None = Field(
        default=None,
        description="Only client tools are served; Anthropic's server tools are not.",
    )


class ToolChoice(_Wire):
    type: Literal["auto", "any", "tool", "none"]
    name: str | None = None
    disable_parallel_tool_use: bool | None = None

    @model_validator(mode="after")
    def _named(self) -> ToolChoice:
        if self.type == "tool" and not self.name:
            raise ValueError("tool_choice of type 'tool' needs the tool's 'name'")
        return self


class Metadata(_Wire):
    user_id: str | None = Field(default=None, max_length=256)


# --- requests ------------------------------------------------------------------------------


class CountTokensRequest(_Wire):
    """``POST /messages/count_tokens``: a Messages request without its output options."""

    model: str = Field(min_length=1)
    messages: list[InputMessage] = Field(min_length=1)
    system: str | list[TextBlock] | None = None
    tools: list[ToolDefinition] | None = None
    tool_choice: ToolChoice | None = None

    @model_validator(mode="after")
    def _choice_names_a_tool(self) -> CountTokensRequest:
        choice = self.tool_choice
        if choice is not None and choice.type == "tool":
            names = {tool.name for tool in self.tools or []}
            if choice.name not in names:
                raise ValueError(
                    f"tool_choice names '{choice.name}', which is not one of the request's tools"
                )
        if choice is not None and choice.type == "any" and not self.tools:
            raise ValueError("tool_choice of type 'any' needs at least one tool in 'tools'")
        return self


class MessagesRequest(CountTokensRequest):
    """``POST /messages``."""

    max_tokens: int = Field(ge=1, le=MAX_OUTPUT_TOKENS)
    stop_sequences: list[str] | None = None
    temperature: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)
    top_p: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)
    top_k: int | None = Field(
        default=None, ge=0, description="Accepted for compatibility; not every provider has it."
    )
    metadata: Metadata | None = None
    stream: bool = False


# --- responses -----------------------------------------------------------------------------

StopReason = Literal["end_turn", "max_tokens", "stop_sequence", "tool_use", "refusal"]


class MessageUsage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None


class OutputText(BaseModel):
    type: Literal["text"] = "text"
    text: str


class OutputToolUse(BaseModel):
    type: Literal["tool_use"] = "tool_use"
    id: str
    name: str
    input: dict[str, Any]


class MessageResponse(BaseModel):
    id: str
    type: Literal["message"] = "message"
    role: Literal["assistant"] = "assistant"
    model: str
    content: list[OutputText | OutputToolUse]
    stop_reason: StopReason | None = None
    stop_sequence: str | None = None
    usage: MessageUsage


class TokenCount(BaseModel):
    input_tokens: int


class ErrorDetail(BaseModel):
    type: str
    message: str


class AnthropicError(BaseModel):
    """Anthropic's error format, which every error of these routes is answered in."""

    type: Literal["error"] = "error"
    error: ErrorDetail
