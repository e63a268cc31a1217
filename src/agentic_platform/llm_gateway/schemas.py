"""The OpenAI-compatible wire shapes of the LLM gateway.

These are also the platform's canonical in-process types: every provider translates from
:class:`ChatCompletionRequest` and back to :class:`ChatCompletion` /
:class:`ChatCompletionChunk`, so the OpenAI-compatible providers pass them through unchanged.
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# --- messages --------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TextPart(_Strict):
    type: Literal["text"]
    text: str


class ImageURL(_Strict):
    url: str
    detail: Literal["auto", "low", "high"] | None = None


class ImagePart(_Strict):
    type: Literal["image_url"]
    image_url: ImageURL


ContentPart = Annotated[TextPart | ImagePart, Field(discriminator="type")]


class FunctionCall(_Strict):
    name: str
    arguments: str = "{}"


class ToolCall(_Strict):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class SystemMessage(_Strict):
    role: Literal["system", "developer"]
    content: str | list[TextPart]
    name: str | None = None


class UserMessage(_Strict):
    role: Literal["user"]
    content: str | list[ContentPart]
    name: str | None = None


class AssistantMessage(_Strict):
    role: Literal["assistant"]
    content: str | list[TextPart] | None = None
    tool_calls: list[ToolCall] | None = None
    name: str | None = None
    refusal: str | None = None


class ToolMessage(_Strict):
    role: Literal["tool"]
    content: str | list[TextPart]
    tool_call_id: str


Message = Annotated[
    SystemMessage | UserMessage | AssistantMessage | ToolMessage, Field(discriminator="role")
]


def message_text(content: str | list[TextPart] | list[ContentPart] | None) -> str:
    """The text of a message's content, with non-text parts left out."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(part.text for part in content if isinstance(part, TextPart))


# --- tools and output format -------------------------------------------------------------


class FunctionDefinition(_Strict):
    name: str = Field(min_length=1, max_length=64)
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(_Strict):
    type: Literal["function"] = "function"
    function: FunctionDefinition


class NamedFunction(_Strict):
    name: str


class NamedToolChoice(_Strict):
    type: Literal["function"] = "function"
    function: NamedFunction


ToolChoice = Literal["auto", "none", "required"] | NamedToolChoice


class JsonSchemaFormat(_Strict):
    name: str = "response"
    description: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None

    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class ResponseFormat(_Strict):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None

    @model_validator(mode="after")
    def _schema_given(self) -> ResponseFormat:
        if self.type == "json_schema" and self.json_schema is None:
            raise ValueError("response_format.json_schema is required when type is 'json_schema'")
        return self


class StreamOptions(_Strict):
    include_usage: bool = False


# --- chat request ----------------------------------------------------------------------

MAX_OUTPUT_TOKENS = 1_000_000
"""The largest ``max_tokens`` accepted: above any model's output limit, and small enough that
the reservation made for it (tokens times price) stays an ordinary number."""


class ChatCompletionRequest(BaseModel):
    """``POST /chat/completions``. Unknown fields are kept and forwarded to OpenAI-compatible
    upstreams, so newer client options keep working."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    messages: list[Message] = Field(min_length=1)
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    temperature: float | None = Field(default=None, ge=0, le=2, allow_inf_nan=False)
    top_p: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_OUTPUT_TOKENS)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=MAX_OUTPUT_TOKENS)
    stop: str | list[str] | None = None
    seed: int | None = Field(default=None, ge=-(2**63), le=2**63 - 1)
    user: str | None = None
    n: int | None = Field(default=None, ge=1, le=1, description="Only one choice is supported.")
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    stream: bool = False
    stream_options: StreamOptions | None = None
    presence_penalty: float | None = Field(default=None, ge=-2, le=2, allow_inf_nan=False)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2, allow_inf_nan=False)

    @model_validator(mode="after")
    def _tool_choice_needs_tools(self) -> ChatCompletionRequest:
        if isinstance(self.tool_choice, NamedToolChoice):
            names = {tool.function.name for tool in self.tools or []}
            if self.tool_choice.function.name not in names:
                raise ValueError(
                    f"tool_choice names '{self.tool_choice.function.name}', "
                    "which is not one of the request's tools"
                )
        if self.tool_choice == "required" and not self.tools:
            raise ValueError("tool_choice 'required' needs at least one tool in 'tools'")
        return self

    @property
    def output_limit(self) -> int | None:
        """The caller's cap on generated tokens, whichever field carried it."""
        return self.max_completion_tokens or self.max_tokens

    @property
    def stop_sequences(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


# --- chat response ---------------------------------------------------------------------

FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]


class PromptTokensDetails(BaseModel):
    cached_tokens: int = 0


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    prompt_tokens_details: PromptTokensDetails | None = None
    cost: float | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="USD the call cost, as the usage ledger records it (an extension to the "
        "OpenAI format; OpenAI's SDKs keep it as an extra field).",
    )

    @classmethod
    def of(cls, prompt: int, completion: int, cached: int = 0) -> Usage:
        details = PromptTokensDetails(cached_tokens=cached) if cached else None
        return cls(
            prompt_tokens=prompt,
            completion_tokens=completion,
            total_tokens=prompt + completion,
            prompt_tokens_details=details,
        )


class ResponseMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None = None
    tool_calls: list[ToolCall] | None = None
    refusal: str | None = None


class Choice(BaseModel):
    index: int = 0
    message: ResponseMessage
    finish_reason: FinishReason = "stop"
    logprobs: dict[str, Any] | None = None


def new_completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


class ChatCompletion(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = Field(default_factory=new_completion_id)
    object: Literal["chat.completion"] = "chat.completion"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[Choice]
    usage: Usage = Field(default_factory=Usage)
    system_fingerprint: str | None = None


class ChunkFunctionCall(BaseModel):
    name: str | None = None
    arguments: str | None = None


class ChunkToolCall(BaseModel):
    index: int
    id: str | None = None
    type: Literal["function"] | None = None
    function: ChunkFunctionCall


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None
    tool_calls: list[ChunkToolCall] | None = None
    refusal: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: FinishReason | None = None
    logprobs: dict[str, Any] | None = None


class ChatCompletionChunk(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[ChunkChoice] = Field(default_factory=list)
    usage: Usage | None = None
    system_fingerprint: str | None = None
    usage_so_far: Usage | None = Field(default=None, exclude=True)
    """The provider's running count up to this chunk, where it keeps one (the local model):
    what a stream cut short is settled with. Never sent to the client."""


# --- embeddings ------------------------------------------------------------------------


TokenIds = list[int]
EmbeddingInput = str | list[str] | TokenIds | list[TokenIds]
MAX_EMBEDDING_INPUTS = 2048
_INPUT_SHAPES = (
    "input must be a string, a list of strings, a list of token ids (integers), or a list "
    "of such lists"
)


def _embedding_input(value: Any) -> EmbeddingInput:
    """Check the four shapes of ``input`` by hand: a union of them would answer a wrong one
    with an error per member, which says nothing a caller can act on."""
    if isinstance(value, str):
        if not value:
            raise ValueError("input must not be an empty string")
        return value
    if not isinstance(value, list) or not value:
        raise ValueError(f"{_INPUT_SHAPES}, with at least one element")
    if len(value) > MAX_EMBEDDING_INPUTS:
        raise ValueError(f"input may hold at most {MAX_EMBEDDING_INPUTS} strings or token lists")
    if all(isinstance(item, str) for item in value):
        if not all(value):
            raise ValueError("input must not contain empty strings")
        return list(value)
    if all(_is_token(item) for item in value):
        return list(value)
    if all(isinstance(item, list) and item and all(map(_is_token, item)) for item in value):
        return [list(item) for item in value]
    raise ValueError(f"{_INPUT_SHAPES} (token lists must be non-empty, ids from 0 to 2^31)")


def _is_token(value: Any) -> bool:
    return type(value) is int and 0 <= value < 2**31


class EmbeddingRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1)
    input: EmbeddingInput = Field(
        description="A string, a list of strings, or token ids: a list of integers or a list "
        "of such lists (where the model's provider accepts token ids)."
    )
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1, le=65_536)
    user: str | None = None

    @field_validator("input", mode="plain", json_schema_input_type=EmbeddingInput)
    @classmethod
    def _input_shape(cls, value: Any) -> EmbeddingInput:
        return _embedding_input(value)

    @property
    def texts(self) -> list[str]:
        """The strings to embed; empty when the input is token ids (see :attr:`tokens`)."""
        if isinstance(self.input, str):
            return [self.input]
        return [item for item in self.input if isinstance(item, str)]

    @property
    def tokens(self) -> list[TokenIds] | None:
        """The input as token id lists, or None when it is text."""
        if isinstance(self.input, str) or isinstance(self.input[0], str):
            return None
        if isinstance(self.input[0], int):
            return [[token for token in self.input if isinstance(token, int)]]
        return [item for item in self.input if isinstance(item, list)]

    @property
    def input_chars(self) -> int:
        """The input's size in characters; token ids count as three each (a token's worth)."""
        tokens = self.tokens
        if tokens is not None:
            return 3 * sum(len(item) for item in tokens)
        return sum(len(text) for text in self.texts)


class EmbeddingResult(BaseModel):
    """What an embedding provider returns: one vector per input, in order."""

    vectors: list[list[float]]
    prompt_tokens: int


class Embedding(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class EmbeddingUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[Embedding]
    model: str
    usage: EmbeddingUsage


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "agentic-platform"
    kind: Literal["chat", "embedding", "rerank"] = Field(
        default="chat",
        description="The endpoint it serves: chat completions, embeddings or rerank.",
    )
    capabilities: list[str] = Field(
        default_factory=list,
        description="What it can do: chat, streaming, tools, json_schema, vision, embeddings, "
        "rerank.",
    )


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
