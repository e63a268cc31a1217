"""The LLM gateway's model-call spans, in the OpenTelemetry GenAI semantic conventions.

``chat {model}`` and ``embeddings {model}`` (kind CLIENT: the gateway is the provider's
client) carry ``gen_ai.operation.name``, ``gen_ai.provider.name``, ``gen_ai.request.model``
(the alias asked for), ``gen_ai.response.model`` (the deployment's own model id), the
request parameters, ``gen_ai.usage.input_tokens`` / ``output_tokens``,
``gen_ai.response.finish_reasons``, ``gen_ai.usage.cost`` (USD, which Langfuse shows) and
``error.type``. Prompts and completions (``gen_ai.input.messages`` /
``gen_ai.output.messages``) only with ``telemetry.capture_content``; API keys and headers
never. The span is created only inside a recorded request span: an unsampled request pays
for nothing here.
"""

from __future__ import annotations

from typing import Any

import orjson
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from agentic_platform.llm_gateway.catalog import Deployment
from agentic_platform.llm_gateway.schemas import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    EmbeddingRequest,
    Message,
    TextPart,
    ToolMessage,
)

PROVIDER_NAMES = {
    "openai": "openai",
    "anthropic": "anthropic",
    "bedrock": "aws.bedrock",
    "local": "local",
    "test": "test",
}
OPERATIONS = {"chat": "chat", "messages": "chat", "embeddings": "embeddings"}


def _chat_parameters(request: ChatCompletionRequest) -> dict[str, Any]:
    found: dict[str, Any] = {
        "gen_ai.request.temperature": request.temperature,
        "gen_ai.request.top_p": request.top_p,
        "gen_ai.request.max_tokens": request.output_limit,
        "gen_ai.request.frequency_penalty": request.frequency_penalty,
        "gen_ai.request.presence_penalty": request.presence_penalty,
        "gen_ai.request.seed": request.seed,
        "gen_ai.request.choice.count": request.n,
    }
    if request.stop is not None:
        found["gen_ai.request.stop_sequences"] = (
            [request.stop] if isinstance(request.stop, str) else list(request.stop)
        )
    if request.response_format is not None:
        kind = request.response_format.type
        found["gen_ai.output.type"] = "json" if kind != "text" else "text"
    if request.stream:
        found["gen_ai.request.stream"] = True
    return {name: value for name, value in found.items() if value is not None}


def _text(content: object) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.text for part in content if isinstance(part, TextPart))
    return ""


def _message_parts(message: Message) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    text = _text(message.content)
    if isinstance(message, ToolMessage):
        parts.append({"type": "tool_call_response", "id": message.tool_call_id, "response": text})
    elif text:
        parts.append({"type": "text", "content": text})
    if isinstance(message, AssistantMessage):
        for call in message.tool_calls or []:
            parts.append(
                {
                    "type": "tool_call",
                    "id": call.id,
                    "name": call.function.name,
                    "arguments": call.function.arguments,
                }
            )
    return {"role": message.role, "parts": parts}


def input_messages(request: ChatCompletionRequest) -> str:
    return orjson.dumps([_message_parts(message) for message in request.messages]).decode()


def output_messages(completion: ChatCompletion) -> str:
    messages = []
    for choice in completion.choices:
        parts: list[dict[str, Any]] = []
        if choice.message.content:
            parts.append({"type": "text", "content": choice.message.content})
        for call in choice.message.tool_calls or []:
            parts.append(
                {
                    "type": "tool_call",
                    "id": call.id,
                    "name": call.function.name,
                    "arguments": call.function.arguments,
                }
            )
        messages.append(
            {"role": "assistant", "parts": parts, "finish_reason": choice.finish_reason}
        )
    return orjson.dumps(messages).decode()


class ModelCallSpan:
    """The span of one metered gateway call, ended with its outcome when it settles."""

    __slots__ = ("_capture", "_finish_reasons", "_streamed_text", "span")

    def __init__(self, span: Span, capture: bool) -> None:
        self.span = span
        self._capture = capture
        self._finish_reasons: list[str] = []
        self._streamed_text: list[str] = []

    def completion(self, completion: ChatCompletion) -> None:
        """What a non-streamed chat answered."""
        self.span.set_attribute("gen_ai.response.id", completion.id)
        self._finish_reasons = [choice.finish_reason for choice in completion.choices]
        if self._capture:
            self.span.set_attribute("gen_ai.output.messages", output_messages(completion))

    def chunk(self, chunk: ChatCompletionChunk) -> None:
        """A streamed chunk: its finish reason, and its text when content is captured."""
        for choice in chunk.choices:
            if choice.finish_reason is not None:
                self._finish_reasons.append(choice.finish_reason)
            if self._capture and choice.delta.content:
                self._streamed_text.append(choice.delta.content)

    def end(
        self,
        status: int,
        error_type: str | None,
        deployment: Deployment | None,
        input_tokens: int,
        output_tokens: int,
        cost_usd: float,
    ) -> None:
        span = self.span
        outcome: dict[str, Any] = {
            "gen_ai.usage.input_tokens": input_tokens,
            "gen_ai.usage.output_tokens": output_tokens,
            "gen_ai.usage.cost": cost_usd,
        }
        if deployment is not None:
            outcome["gen_ai.provider.name"] = provider_name(deployment)
            outcome["gen_ai.response.model"] = deployment.model
        if self._finish_reasons:
            outcome["gen_ai.response.finish_reasons"] = self._finish_reasons
        if self._streamed_text:
            text = "".join(self._streamed_text)
            parts = [{"type": "text", "content": text}]
            reason = self._finish_reasons[-1] if self._finish_reasons else None
            message = {"role": "assistant", "parts": parts, "finish_reason": reason}
            outcome["gen_ai.output.messages"] = orjson.dumps([message]).decode()
        if error_type is not None or status >= 400:
            outcome["error.type"] = error_type or str(status)
            span.set_status(Status(StatusCode.ERROR))
        span.set_attributes(outcome)  # one lock and one pass, not one per attribute
        span.end()


def provider_name(deployment: Deployment) -> str:
    return PROVIDER_NAMES.get(deployment.provider, deployment.provider)


def start_model_call(
    tracer: Tracer,
    endpoint: str,
    request: ChatCompletionRequest | EmbeddingRequest,
    principal_id: str,
    capture_content: bool,
) -> ModelCallSpan | None:
    """The span of a gateway call, or None when the request is not being recorded."""
    if not trace.get_current_span().is_recording():
        return None
    operation = OPERATIONS.get(endpoint, endpoint)
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": operation,
        "gen_ai.request.model": request.model,
        "user.id": principal_id,
    }
    if isinstance(request, ChatCompletionRequest):
        attributes.update(_chat_parameters(request))
        if capture_content:
            attributes["gen_ai.input.messages"] = input_messages(request)
    else:
        attributes["gen_ai.request.encoding_formats"] = [request.encoding_format]
        if request.dimensions is not None:
            attributes["gen_ai.embeddings.dimension.count"] = request.dimensions
        if capture_content:
            attributes["gen_ai.input.messages"] = orjson.dumps(request.texts).decode()
    span = tracer.start_span(
        f"{operation} {request.model}", kind=SpanKind.CLIENT, attributes=attributes
    )
    return ModelCallSpan(span, capture_content)
