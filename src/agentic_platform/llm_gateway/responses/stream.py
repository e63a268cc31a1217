"""A chat completion stream as the Responses API's server-sent events.

The events, in order: ``response.created`` and ``response.in_progress``; per output item
``response.output_item.added``, then for a message ``response.content_part.added``,
``response.output_text.delta``... ``response.output_text.done`` and
``response.content_part.done``, for a tool call ``response.function_call_arguments.delta``...
``.done``; ``response.output_item.done``; and last ``response.completed`` (or
``response.incomplete`` when the output limit cut it) with the usage. A failure after the
stream began ends it with an ``error`` event, which the OpenAI SDK raises as an APIError."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from agentic_platform.errors import PlatformError
from agentic_platform.llm_gateway.responses.schemas import (
    OutputFunctionCall,
    OutputItem,
    OutputMessage,
    OutputText,
    ResponseObject,
    new_id,
)
from agentic_platform.llm_gateway.responses.translate import incomplete, usage_of
from agentic_platform.llm_gateway.schemas import ChatCompletionChunk, FinishReason, Usage

logger = logging.getLogger("agentic_platform.http")


@dataclass(slots=True, eq=False)
class _Open:
    """An output item being streamed."""

    index: int
    item: OutputItem
    parts: list[str] = field(default_factory=list)


class ResponseEvents:
    """Turns chunks into events; one per streamed response."""

    def __init__(self, shell: ResponseObject) -> None:
        self.response = shell
        self._sequence = 0
        self._message: _Open | None = None
        self._calls: dict[int, _Open] = {}
        self._open: list[_Open] = []
        self.finish: FinishReason | None = None
        self.usage: Usage | None = None

    def event(self, kind: str, **fields: Any) -> bytes:
        payload = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"

    def _dump(self) -> dict[str, Any]:
        return self.response.model_dump(mode="json")

    def start(self) -> list[bytes]:
        self.response.status = "in_progress"
        snapshot = self._dump()
        return [
            self.event("response.created", response=snapshot),
            self.event("response.in_progress", response=snapshot),
        ]

    def chunk(self, chunk: ChatCompletionChunk) -> list[bytes]:
        if chunk.usage is not None:
            self.usage = chunk.usage
        out: list[bytes] = []
        for choice in chunk.choices:
            delta = choice.delta
            if delta.content:
                out += self._text(delta.content)
            for call in delta.tool_calls or ():
                out += self._call(call.index, call.id, call.function.name, call.function.arguments)
            if choice.finish_reason is not None:
                self.finish = choice.finish_reason
        return out

    def _begin(self, item: OutputItem) -> tuple[_Open, list[bytes]]:
        out = self._close_all()
        opened = _Open(len(self.response.output), item)
        self.response.output.append(item)
        self._open.append(opened)
        item.status = "in_progress"
        out.append(
            self.event(
                "response.output_item.added",
                output_index=opened.index,
                item=item.model_dump(mode="json"),
            )
        )
        return opened, out

    def _text(self, text: str) -> list[bytes]:
        out: list[bytes] = []
        opened = self._message
        if opened is None or opened not in self._open:
            opened, out = self._begin(OutputMessage(id=new_id("msg")))
            self._message = opened
            out.append(
                self.event(
                    "response.content_part.added",
                    **self._where(opened),
                    part=OutputText(text="").model_dump(mode="json"),
                )
            )
        opened.parts.append(text)
        out.append(
            self.event("response.output_text.delta", **self._where(opened), delta=text, logprobs=[])
        )
        return out

    def _call(
        self, index: int, call_id: str | None, name: str | None, arguments: str | None
    ) -> list[bytes]:
        out: list[bytes] = []
        opened = self._calls.get(index)
        if opened is None:
            item = OutputFunctionCall(
                id=new_id("fc"), call_id=call_id or new_id("call"), name=name or "", arguments=""
            )
            opened, out = self._begin(item)
            self._calls[index] = opened
        if arguments:
            opened.parts.append(arguments)
            if opened in self._open:
                out.append(
                    self.event(
                        "response.function_call_arguments.delta",
                        item_id=opened.item.id,
                        output_index=opened.index,
                        delta=arguments,
                    )
                )
        return out

    @staticmethod
    def _where(opened: _Open) -> dict[str, Any]:
        return {"item_id": opened.item.id, "output_index": opened.index, "content_index": 0}

    def _close_all(self) -> list[bytes]:
        out: list[bytes] = []
        for opened in self._open:
            out += self._close(opened)
        self._open.clear()
        return out

    def _close(self, opened: _Open) -> list[bytes]:
        item = opened.item
        text = "".join(opened.parts)
        status: Literal["completed", "incomplete"] = (
            "incomplete" if incomplete(self.finish) is not None else "completed"
        )
        out: list[bytes] = []
        if isinstance(item, OutputMessage):
            part = OutputText(text=text)
            item.content = [part]
            out.append(
                self.event(
                    "response.output_text.done", **self._where(opened), text=text, logprobs=[]
                )
            )
            out.append(
                self.event(
                    "response.content_part.done",
                    **self._where(opened),
                    part=part.model_dump(mode="json"),
                )
            )
        else:
            item.arguments = text
            out.append(
                self.event(
                    "response.function_call_arguments.done",
                    item_id=item.id,
                    output_index=opened.index,
                    name=item.name,
                    arguments=text,
                )
            )
        item.status = status
        out.append(
            self.event(
                "response.output_item.done",
                output_index=opened.index,
                item=item.model_dump(mode="json"),
            )
        )
        return out

    def finish_events(self) -> list[bytes]:
        out = self._close_all()
        response = self.response
        response.incomplete_details = incomplete(self.finish)
        response.status = "incomplete" if response.incomplete_details else "completed"
        response.usage = usage_of(self.usage) if self.usage is not None else None
        kind = "response.incomplete" if response.incomplete_details else "response.completed"
        out.append(self.event(kind, response=self._dump()))
        return out

    def error(self, error: PlatformError) -> bytes:
        body = error.to_body()["error"]
        return self.event(
            "error", code=body["code"], message=body["message"], param=body["param"], error=body
        )


async def response_events(
    shell: ResponseObject, chunks: AsyncIterator[ChatCompletionChunk]
) -> AsyncIterator[bytes]:
    events = ResponseEvents(shell)
    for data in events.start():
        yield data
    try:
        async for chunk in chunks:
            for data in events.chunk(chunk):
                yield data
    except PlatformError as error:
        logger.warning("stream failed", extra={"code": error.code})
        yield events.error(error)
        return
    except Exception as error:
        logger.error("stream failed", exc_info=error)
        yield events.error(PlatformError("The stream failed."))
        return
    for data in events.finish_events():
        yield data
