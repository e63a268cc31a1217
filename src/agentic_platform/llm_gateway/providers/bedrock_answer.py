"""Bedrock's Converse answers in the canonical OpenAI shapes: a whole response, and the
ConverseStream events as chunks. Pure, like :mod:`bedrock_wire`, which builds the requests."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from agentic_platform.errors import UpstreamUnavailableError
from agentic_platform.llm_gateway.schemas import (
    ChatCompletion,
    ChatCompletionChunk,
    Choice,
    ChunkChoice,
    ChunkFunctionCall,
    ChunkToolCall,
    Delta,
    FinishReason,
    FunctionCall,
    ResponseMessage,
    ToolCall,
    Usage,
    new_completion_id,
)

STOP_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "content_filtered": "content_filter",
    "guardrail_intervened": "content_filter",
}


def chat_completion(
    response: Mapping[str, Any], model: str, response_tool: str | None = None
) -> ChatCompletion:
    """The OpenAI completion for a Converse response."""
    message = response.get("output", {}).get("message", {})
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in message.get("content", []):
        if "toolUse" in block and block["toolUse"]["name"] == response_tool:
            return _json_completion(response, model, block["toolUse"]["input"])
        if "toolUse" in block:
            calls.append(_tool_call(block["toolUse"]))
        elif "text" in block:
            texts.append(block["text"])
    reply = ResponseMessage(content="".join(texts) if texts else None, tool_calls=calls or None)
    return ChatCompletion(
        model=model,
        choices=[Choice(message=reply, finish_reason=finish_reason(response, bool(calls)))],
        usage=usage(response.get("usage")),
    )


def _json_completion(response: Mapping[str, Any], model: str, document: Any) -> ChatCompletion:
    """The emulated ``response_format`` answer: the forced tool's input is the content."""
    reply = ResponseMessage(content=json.dumps(document))
    reason = finish_reason(response, has_tool_calls=False)
    return ChatCompletion(
        model=model,
        choices=[Choice(message=reply, finish_reason=reason)],
        usage=usage(response.get("usage")),
    )


def _tool_call(use: Mapping[str, Any]) -> ToolCall:
    return ToolCall(
        id=use["toolUseId"],
        function=FunctionCall(name=use["name"], arguments=json.dumps(use.get("input", {}))),
    )


def finish_reason(response: Mapping[str, Any], has_tool_calls: bool) -> FinishReason:
    """OpenAI's finish reason; ``tool_calls`` only when the caller actually gets calls."""
    reason = STOP_REASONS.get(str(response.get("stopReason", "")), "stop")
    if reason == "tool_calls" and not has_tool_calls:
        return "stop"
    return reason


def usage(raw: Mapping[str, Any] | None) -> Usage:
    """OpenAI usage. Bedrock's ``inputTokens`` excludes cache reads and writes, while
    OpenAI's ``prompt_tokens`` includes them (``cached_tokens`` is a subset), so they are
    added back."""
    if not raw:
        return Usage()
    cache_read = int(raw.get("cacheReadInputTokens") or 0)
    cache_write = int(raw.get("cacheWriteInputTokens") or 0)
    prompt = int(raw.get("inputTokens") or 0) + cache_read + cache_write
    return Usage.of(prompt, int(raw.get("outputTokens") or 0), cached=cache_read)


class StreamTranslator:
    """Turns ConverseStream events into OpenAI chunks, one event at a time.

    The first chunk carries the assistant role, each tool call gets an OpenAI index with its
    id and name first and its argument fragments after, ``messageStop`` gives the finish
    chunk and ``metadata`` the final usage chunk with no choices.
    """

    def __init__(self, model: str, response_tool: str | None = None) -> None:
        self._id = new_completion_id()
        self._created = int(time.time())
        self._model = model
        self._response_tool = response_tool
        self._tool_index: dict[int, int] = {}
        self._json_blocks: set[int] = set()
        self._started = False
        self._stopped = False
        self._usage_sent = False

    def translate(self, event: Mapping[str, Any]) -> list[ChatCompletionChunk]:
        chunks = [] if self._started else [self._chunk(Delta(role="assistant", content=""))]
        self._started = True
        if "contentBlockStart" in event:
            chunks.extend(self._block_start(event["contentBlockStart"]))
        elif "contentBlockDelta" in event:
            chunks.extend(self._block_delta(event["contentBlockDelta"]))
        elif "messageStop" in event:
            chunks.append(self._finish(event["messageStop"]))
        elif "metadata" in event:
            chunks.append(self._usage_chunk(usage(event["metadata"].get("usage"))))
        return chunks

    def finish(self) -> list[ChatCompletionChunk]:
        """Called when the stream ends: a stream cut before ``messageStop`` is an upstream
        failure, not a short answer."""
        if not self._stopped:
            raise UpstreamUnavailableError("Bedrock ended the stream before the answer was done")
        return [] if self._usage_sent else [self._usage_chunk(Usage())]

    def _block_start(self, event: Mapping[str, Any]) -> list[ChatCompletionChunk]:
        use = event.get("start", {}).get("toolUse")
        if use is None:
            return []
        block = int(event["contentBlockIndex"])
        if use["name"] == self._response_tool:
            self._json_blocks.add(block)
            return []
        index = self._tool_index[block] = len(self._tool_index)
        call = ChunkToolCall(
            index=index,
            id=use["toolUseId"],
            type="function",
            function=ChunkFunctionCall(name=use["name"], arguments=""),
        )
        return [self._chunk(Delta(tool_calls=[call]))]

    def _block_delta(self, event: Mapping[str, Any]) -> list[ChatCompletionChunk]:
        block = int(event.get("contentBlockIndex", 0))
        delta = event.get("delta", {})
        if "toolUse" in delta:
            fragment = str(delta["toolUse"].get("input", ""))
            if block in self._json_blocks:
                return [self._chunk(Delta(content=fragment))]
            if block in self._tool_index and fragment:
                call = ChunkToolCall(
                    index=self._tool_index[block],
                    function=ChunkFunctionCall(arguments=fragment),
                )
                return [self._chunk(Delta(tool_calls=[call]))]
        elif "text" in delta and delta["text"] and self._response_tool is None:
            return [self._chunk(Delta(content=delta["text"]))]
        return []

    def _finish(self, event: Mapping[str, Any]) -> ChatCompletionChunk:
        self._stopped = True
        reason = finish_reason(event, has_tool_calls=bool(self._tool_index))
        return self._chunk(Delta(), reason)

    def _usage_chunk(self, counts: Usage) -> ChatCompletionChunk:
        self._usage_sent = True
        return ChatCompletionChunk(
            id=self._id, created=self._created, model=self._model, choices=[], usage=counts
        )

    def _chunk(self, delta: Delta, finish: FinishReason | None = None) -> ChatCompletionChunk:
        return ChatCompletionChunk(
            id=self._id,
            created=self._created,
            model=self._model,
            choices=[ChunkChoice(delta=delta, finish_reason=finish)],
        )
