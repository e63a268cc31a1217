"""Local provider, answers: llama.cpp's streamed chunks as OpenAI chunks and completions,
with tool calls recognised in the model's JSON text."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any, cast, get_args

from agentic_platform.errors import UpstreamRequestError, UpstreamUnavailableError
from agentic_platform.llm_gateway.providers.local_request import OutputMode, OutputPlan
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
)

_FINISH_REASONS: frozenset[str] = frozenset(get_args(FinishReason))


def _new_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _one_call(item: Any, names: frozenset[str]) -> ToolCall | None:
    if not isinstance(item, dict) or item.get("name") not in names:
        return None
    arguments = item.get("arguments", {})
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments)
    return ToolCall(
        id=_new_call_id(), function=FunctionCall(name=item["name"], arguments=arguments)
    )


def parse_tool_calls(text: str, names: frozenset[str]) -> list[ToolCall]:
    """The tool calls in a model answer (one JSON call or a list of them), or none."""
    try:
        value = json.loads(text)
    except ValueError:
        return []
    items = value if isinstance(value, list) else [value]
    calls = [call for item in items if (call := _one_call(item, names)) is not None]
    return calls if items and len(calls) == len(items) else []


def _call_delta(index: int, call: ToolCall) -> ChunkToolCall:
    return ChunkToolCall(
        index=index,
        id=call.id,
        type="function",
        function=ChunkFunctionCall(name=call.function.name, arguments=call.function.arguments),
    )


@dataclass
class _Answer:
    """Turns the model's text deltas into OpenAI deltas, finding tool calls on the way.

    In ``NAMED`` mode the text is the call's arguments and streams as such. In ``CALLS`` mode
    text is held back while it could still be a JSON tool call (it is blank or starts with
    ``{`` / ``[``) and released as content as soon as it cannot.

    llama.cpp's JSON grammars allow whitespace after the closing brace, and a tiny model may
    spend its remaining tokens on it: JSON that is complete when the token limit hits is
    reported as finished (``stop`` / ``tool_calls``), not ``length``.
    """

    plan: OutputPlan
    text: str = ""
    held: str = ""
    holding: bool = False
    announced: bool = False
    arguments: str = ""

    def __post_init__(self) -> None:
        self.holding = self.plan.mode is OutputMode.CALLS

    def feed(self, text: str) -> Delta | None:
        if not text:
            return None
        if self.plan.mode is OutputMode.NAMED:
            return self._arguments_delta(text)
        if self.holding:
            self.held += text
            head = self.held.lstrip()
            if not head or head[0] in "{[":
                return None
            self.holding, text, self.held = False, self.held, ""
        self.text += text
        return Delta(content=text)

    def finish(self, reason: FinishReason) -> tuple[Delta | None, FinishReason]:
        """The last delta (held text, or a call not yet announced) and the finish reason."""
        if self.plan.mode is OutputMode.NAMED:
            delta = None if self.announced else self._arguments_delta("")
            return delta, "tool_calls" if _is_json(self.arguments) else reason
        calls = parse_tool_calls(self.held, self.plan.tool_names) if self.held else []
        if calls:
            deltas = [_call_delta(index, call) for index, call in enumerate(calls)]
            return Delta(tool_calls=deltas), "tool_calls"
        delta = self._release_held()
        if reason == "length" and self.plan.json_text and _is_json(self.text):
            reason = "stop"
        return delta, reason

    def _release_held(self) -> Delta | None:
        """Release held text that turned out not to be a tool call."""
        held, self.held, self.holding = self.held, "", False
        return self.feed(held)

    def _arguments_delta(self, text: str) -> Delta:
        self.arguments += text
        if self.announced:
            function = ChunkFunctionCall(arguments=text)
            return Delta(tool_calls=[ChunkToolCall(index=0, function=function)])
        self.announced = True
        call = ToolCall(
            id=_new_call_id(), function=FunctionCall(name=self.plan.named or "", arguments=text)
        )
        return Delta(tool_calls=[_call_delta(0, call)])


def _usage(raw: dict[str, Any]) -> Usage:
    cached = (raw.get("prompt_tokens_details") or {}).get("cached_tokens", 0)
    return Usage.of(int(raw.get("prompt_tokens", 0)), int(raw.get("completion_tokens", 0)), cached)


def _running_usage(timings: dict[str, Any]) -> Usage:
    """The model's own count so far, from llama.cpp's per-token ``timings`` (prompt tokens
    read plus those reused from its cache, tokens generated)."""
    cached = int(timings.get("cache_n", 0))
    return Usage.of(int(timings.get("prompt_n", 0)) + cached, int(timings.get("predicted_n", 0)))


def _finish_reason(value: Any) -> FinishReason:
    return cast(FinishReason, value) if value in _FINISH_REASONS else "stop"


def _raise_error(error: Any) -> None:
    """llama.cpp reports request errors as an ``{"error": ...}`` chunk."""
    detail: dict[str, Any] = error if isinstance(error, dict) else {"message": str(error)}
    message = str(detail.get("message") or "the local model rejected the request")
    code = detail.get("code")
    status = code if isinstance(code, int) else 500
    if detail.get("type") == "exceed_context_size_error":
        raise UpstreamRequestError(message, code="context_length_exceeded", upstream_status=400)
    if 400 <= status < 500:
        raise UpstreamRequestError(message, upstream_status=status)
    raise UpstreamUnavailableError(message, upstream_status=status)


class Accumulator:
    """Folds a stream of chunks back into one completion (for non-streaming requests)."""

    def __init__(self) -> None:
        self.content: list[str] = []
        self.calls: dict[int, ToolCall] = {}
        self.finish: FinishReason = "stop"
        self.usage = Usage()

    def add(self, chunk: ChatCompletionChunk) -> None:
        if chunk.usage is not None:
            self.usage = chunk.usage
        for choice in chunk.choices:
            self.content.append(choice.delta.content or "")
            for delta in choice.delta.tool_calls or []:
                self._add_call(delta)
            if choice.finish_reason is not None:
                self.finish = choice.finish_reason

    def _add_call(self, delta: ChunkToolCall) -> None:
        call = self.calls.get(delta.index)
        if call is None:
            name = delta.function.name or ""
            call = ToolCall(
                id=delta.id or _new_call_id(), function=FunctionCall(name=name, arguments="")
            )
            self.calls[delta.index] = call
        call.function.arguments += delta.function.arguments or ""

    def completion(self, completion_id: str, model: str) -> ChatCompletion:
        calls = [self.calls[index] for index in sorted(self.calls)]
        message = ResponseMessage(content="".join(self.content) or None, tool_calls=calls or None)
        return ChatCompletion(
            id=completion_id,
            model=model,
            choices=[Choice(message=message, finish_reason=self.finish)],
            usage=self.usage,
        )


class ChunkTranslator:
    """Maps llama.cpp's chunks to canonical ones: a role chunk, deltas, a finish chunk, and a
    last chunk with usage and no choices."""

    def __init__(self, plan: OutputPlan, completion_id: str, model: str) -> None:
        self._answer = _Answer(plan)
        self._id = completion_id
        self._model = model
        self._started = False
        self._finish: FinishReason = "stop"
        self._usage = Usage()
        self._so_far: Usage | None = None

    def translate(self, raw: dict[str, Any]) -> list[ChatCompletionChunk]:
        if "error" in raw:
            _raise_error(raw["error"])
        chunks = [] if self._started else [self._chunk(Delta(role="assistant", content=""))]
        self._started = True
        if raw.get("usage"):
            self._usage = _usage(raw["usage"])
        timings = raw.get("timings")
        if timings:
            self._so_far = _running_usage(timings)
        for choice in raw.get("choices") or []:
            delta = self._answer.feed((choice.get("delta") or {}).get("content") or "")
            if delta is not None:
                chunk = self._chunk(delta)
                chunk.usage_so_far = self._so_far
                chunks.append(chunk)
            if choice.get("finish_reason"):
                self._finish = _finish_reason(choice["finish_reason"])
        return chunks

    def closing(self) -> list[ChatCompletionChunk]:
        last, finish = self._answer.finish(self._finish)
        chunks = [self._chunk(last)] if last is not None else []
        chunks.append(self._chunk(Delta(), finish))
        chunks.append(
            ChatCompletionChunk(id=self._id, model=self._model, choices=[], usage=self._usage)
        )
        return chunks

    def _chunk(self, delta: Delta, finish: FinishReason | None = None) -> ChatCompletionChunk:
        choice = ChunkChoice(delta=delta, finish_reason=finish)
        return ChatCompletionChunk(id=self._id, model=self._model, choices=[choice])
