"""Builds one chat completion from a stream of chunks, as the chunks arrive."""

from __future__ import annotations

from dataclasses import dataclass, field

from agentic_platform.llm_gateway.schemas import (
    ChatCompletion,
    ChatCompletionChunk,
    Choice,
    FinishReason,
    FunctionCall,
    ResponseMessage,
    ToolCall,
    Usage,
)


@dataclass
class _PartialCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class CompletionAssembler:
    """Feed it every chunk (``add`` returns the chunk's new text); ``completion()`` is the
    answer the same call would have given unstreamed."""

    def __init__(self, model: str) -> None:
        self._model = model
        self._id = ""
        self._text: list[str] = []
        self._calls: dict[int, _PartialCall] = {}
        self._finish: FinishReason = "stop"
        self._usage = Usage()

    def add(self, chunk: ChatCompletionChunk) -> str:
        self._id = self._id or chunk.id
        if chunk.usage is not None:
            self._usage = chunk.usage
        text = ""
        for choice in chunk.choices:
            delta = choice.delta
            if delta.content:
                text += delta.content
            for call in delta.tool_calls or ():
                partial = self._calls.setdefault(call.index, _PartialCall())
                partial.id = call.id or partial.id
                partial.name = call.function.name or partial.name
                if call.function.arguments:
                    partial.arguments.append(call.function.arguments)
            if choice.finish_reason is not None:
                self._finish = choice.finish_reason
        if text:
            self._text.append(text)
        return text

    def completion(self) -> ChatCompletion:
        calls = [
            ToolCall(
                id=partial.id or f"call_{index}",
                function=FunctionCall(name=partial.name, arguments="".join(partial.arguments)),
            )
            for index, partial in sorted(self._calls.items())
        ]
        message = ResponseMessage(content="".join(self._text) or None, tool_calls=calls or None)
        completion = ChatCompletion(
            model=self._model,
            choices=[Choice(message=message, finish_reason=self._finish)],
            usage=self._usage,
        )
        if self._id:
            completion.id = self._id
        return completion
