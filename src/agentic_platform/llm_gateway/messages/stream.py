"""The gateway's chat chunks as Anthropic's server-sent events.

The sequence is Anthropic's: ``message_start`` and a ``ping``, then per content block a
``content_block_start``, its deltas (``text_delta`` for text, ``input_json_delta`` for a tool's
input) and a ``content_block_stop``, then ``message_delta`` with the stop reason and usage,
and ``message_stop``. The usage is known only at the end, so ``message_start`` reports zero
tokens and ``message_delta`` the whole count (input tokens included, as Anthropic's
``message_delta`` may). A failure after the stream started ends it with an ``error`` event."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson

from agentic_platform.errors import PlatformError
from agentic_platform.llm_gateway.messages.errors import error_body
from agentic_platform.llm_gateway.messages.translate import (
    STOP_REASONS,
    message_id,
    message_usage,
)
from agentic_platform.llm_gateway.schemas import ChatCompletionChunk, FinishReason, Usage

logger = logging.getLogger("agentic_platform.http")


def sse(kind: str, data: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class EventWriter:
    """Turns chunks into events, one content block open at a time."""

    def __init__(self) -> None:
        self._index = -1
        self._open: str | None = None  # "text", or the tool call index as "tool:N"
        self._finish: FinishReason | None = None
        self._usage = Usage()
        self.started = False

    def start(self, chunk: ChatCompletionChunk) -> list[bytes]:
        self.started = True
        message: dict[str, Any] = {
            "id": message_id(chunk.id),
            "type": "message",
            "role": "assistant",
            "model": chunk.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return [
            sse("message_start", {"type": "message_start", "message": message}),
            sse("ping", {"type": "ping"}),
        ]

    def feed(self, chunk: ChatCompletionChunk) -> list[bytes]:
        events = [] if self.started else self.start(chunk)
        if chunk.usage is not None:
            self._usage = chunk.usage
        for choice in chunk.choices:
            delta = choice.delta
            if delta.content:
                if self._open != "text":
                    events.extend(self._begin("text", {"type": "text", "text": ""}))
                events.append(self._delta({"type": "text_delta", "text": delta.content}))
            for call in delta.tool_calls or ():
                key = f"tool:{call.index}"
                if self._open != key:
                    block = {
                        "type": "tool_use",
                        "id": call.id or f"toolu_{self._index + 1}",
                        "name": call.function.name or "",
                        "input": {},
                    }
                    events.extend(self._begin(key, block))
                if call.function.arguments:
                    partial = {"type": "input_json_delta", "partial_json": call.function.arguments}
                    events.append(self._delta(partial))
            if choice.finish_reason is not None:
                self._finish = choice.finish_reason
        return events

    def finish(self) -> list[bytes]:
        events = self._end_block()
        usage = message_usage(self._usage).model_dump(exclude_none=True)
        delta = {"stop_reason": STOP_REASONS.get(self._finish, "end_turn"), "stop_sequence": None}
        events.append(
            sse("message_delta", {"type": "message_delta", "delta": delta, "usage": usage})
        )
        events.append(sse("message_stop", {"type": "message_stop"}))
        return events

    def _begin(self, key: str, block: dict[str, Any]) -> list[bytes]:
        events = self._end_block()
        self._index += 1
        self._open = key
        start = {"type": "content_block_start", "index": self._index, "content_block": block}
        events.append(sse("content_block_start", start))
        return events

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return sse(
            "content_block_delta",
            {"type": "content_block_delta", "index": self._index, "delta": delta},
        )

    def _end_block(self) -> list[bytes]:
        if self._open is None:
            return []
        self._open = None
        return [sse("content_block_stop", {"type": "content_block_stop", "index": self._index})]


async def message_events(chunks: AsyncIterator[ChatCompletionChunk]) -> AsyncIterator[bytes]:
    """The stream's events. Closing this generator closes ``chunks`` (which settles the call)."""
    writer = EventWriter()
    try:
        async for chunk in chunks:
            for data in writer.feed(chunk):
                yield data
    except PlatformError as error:
        logger.warning("stream failed", extra={"code": error.code})
        yield sse("error", error_body(error))
        return
    except Exception as error:
        logger.error("stream failed", exc_info=error)
        yield sse("error", error_body(PlatformError("The stream failed.")))
        return
    finally:
        closer = getattr(chunks, "aclose", None)
        if closer is not None:
            await closer()
    for data in writer.finish():
        yield data
