"""The ``test`` provider: a real, deterministic model for tests and demos.

Behaviour is chosen by the deployment's ``options``:

* by default it echoes: it answers with the text of the last user message;
* ``replies: [..]`` answers with each reply in turn, starting over after the last (a reply
  is text, or a mapping with
  ``tool_calls: [{name, arguments}]`` to make the model call tools);
* ``function: "module:callable"`` hands the request to a Python function that returns a
  reply (text, a mapping as above, or a :class:`ResponseMessage`);
* the request's ``stop`` sequences end a text reply where the first of them begins (it is
  not part of the answer), and ``max_tokens`` cuts it to that many words (``length``);
* ``delay_seconds`` waits before answering (and between streamed chunks, the finish chunk
  included), and before each embeddings answer.

Embeddings are deterministic unit vectors derived from the text (``dimensions``, default 64),
so equal texts get equal vectors. Token counts are whitespace-separated words.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import itertools
import json
import math
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from agentic_platform.errors import ConfigurationError
from agentic_platform.llm_gateway.catalog import Deployment
from agentic_platform.llm_gateway.rerank_schemas import RerankScores
from agentic_platform.llm_gateway.schemas import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChunkChoice,
    ChunkFunctionCall,
    ChunkToolCall,
    Delta,
    EmbeddingResult,
    FunctionCall,
    ResponseMessage,
    ToolCall,
    Usage,
    UserMessage,
    message_text,
    new_completion_id,
)

Reply = str | dict[str, Any] | ResponseMessage
ReplyFunction = Callable[[ChatCompletionRequest], Reply]


def count_tokens(text: str) -> int:
    return len(text.split())


def _to_message(reply: Reply, call_ids: Iterator[int]) -> ResponseMessage:
    if isinstance(reply, ResponseMessage):
        return reply
    if isinstance(reply, str):
        return ResponseMessage(content=reply)
    calls = [
        ToolCall(
            id=f"call_{next(call_ids)}",
            function=FunctionCall(
                name=call["name"],
                arguments=call["arguments"]
                if isinstance(call.get("arguments"), str)
                else json.dumps(call.get("arguments", {})),
            ),
        )
        for call in reply.get("tool_calls", [])
    ]
    return ResponseMessage(content=reply.get("content"), tool_calls=calls or None)


def _load_function(path: str) -> ReplyFunction:
    module_name, _, attribute = path.partition(":")
    try:
        function: ReplyFunction = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(f"test provider: cannot import function '{path}'") from exc
    return function


class ScriptedModel:
    """Answers chat requests by script; see the module docstring."""

    def __init__(
        self,
        *,
        function: ReplyFunction | None = None,
        replies: list[Reply] | None = None,
        delay_seconds: float = 0.0,
        dimensions: int = 64,
    ) -> None:
        self._function = function
        self._replies = itertools.cycle(replies) if replies else None
        self._delay = delay_seconds
        self._dimensions = dimensions
        self._call_ids = itertools.count(1)

    def _reply(self, request: ChatCompletionRequest) -> ResponseMessage:
        if self._function is not None:
            return _to_message(self._function(request), self._call_ids)
        if self._replies is not None:
            return _to_message(next(self._replies), self._call_ids)
        last_user = next(
            (m for m in reversed(request.messages) if isinstance(m, UserMessage)), None
        )
        return ResponseMessage(content=message_text(last_user.content) if last_user else "")

    @staticmethod
    def _stop_at(message: ResponseMessage, sequences: list[str]) -> ResponseMessage:
        """The text up to the first stop sequence in it, as a model stops generating there."""
        if message.content is None or message.tool_calls:
            return message
        ends = [message.content.find(s) for s in sequences if s and s in message.content]
        return ResponseMessage(content=message.content[: min(ends)]) if ends else message

    @staticmethod
    def _truncate(message: ResponseMessage, limit: int | None) -> tuple[ResponseMessage, bool]:
        if limit is None or message.content is None or message.tool_calls:
            return message, False
        words = message.content.split(" ")
        if len(words) <= limit:
            return message, False
        return ResponseMessage(content=" ".join(words[:limit])), True

    @staticmethod
    def _usage(request: ChatCompletionRequest, message: ResponseMessage) -> Usage:
        prompt = sum(count_tokens(message_text(m.content)) for m in request.messages)
        completion = count_tokens(message.content or "") + sum(
            count_tokens(call.function.arguments) for call in message.tool_calls or []
        )
        return Usage.of(prompt, completion)

    async def complete(self, request: ChatCompletionRequest) -> ChatCompletion:
        if self._delay:
            await asyncio.sleep(self._delay)
        stopped = self._stop_at(self._reply(request), request.stop_sequences)
        message, truncated = self._truncate(stopped, request.output_limit)
        finish = "tool_calls" if message.tool_calls else ("length" if truncated else "stop")
        return ChatCompletion(
            model=request.model,
            choices=[Choice(message=message, finish_reason=finish)],
            usage=self._usage(request, message),
        )

    async def stream(self, request: ChatCompletionRequest) -> AsyncIterator[ChatCompletionChunk]:
        completion = await self.complete(request)
        message = completion.choices[0].message
        chunk_id = new_completion_id()

        def chunk(delta: Delta, finish: Any = None) -> ChatCompletionChunk:
            return ChatCompletionChunk(
                id=chunk_id,
                model=request.model,
                choices=[ChunkChoice(delta=delta, finish_reason=finish)],
            )

        yield chunk(Delta(role="assistant", content=""))
        words = (message.content or "").split(" ") if message.content else []
        for position, word in enumerate(words):
            if self._delay:
                await asyncio.sleep(self._delay)
            yield chunk(Delta(content=word if position == 0 else f" {word}"))
        for index, call in enumerate(message.tool_calls or []):
            yield chunk(
                Delta(
                    tool_calls=[
                        ChunkToolCall(
                            index=index,
                            id=call.id,
                            type="function",
                            function=ChunkFunctionCall(
                                name=call.function.name, arguments=call.function.arguments
                            ),
                        )
                    ]
                )
            )
        if self._delay:
            await asyncio.sleep(self._delay)
        yield chunk(Delta(), completion.choices[0].finish_reason)
        yield ChatCompletionChunk(
            id=chunk_id, model=request.model, choices=[], usage=completion.usage
        )

    async def embed(self, texts: list[str]) -> EmbeddingResult:
        if self._delay:
            await asyncio.sleep(self._delay)
        return EmbeddingResult(
            vectors=[self._vector(text) for text in texts],
            prompt_tokens=sum(count_tokens(text) for text in texts),
        )

    def _vector(self, text: str) -> list[float]:
        values: list[float] = []
        counter = 0
        while len(values) < self._dimensions:
            digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
            values.extend((byte - 127.5) / 127.5 for byte in digest)
            counter += 1
        values = values[: self._dimensions]
        norm = math.sqrt(sum(v * v for v in values)) or 1.0
        return [v / norm for v in values]

    async def aclose(self) -> None:
        return None


def _from_deployment(deployment: Deployment) -> ScriptedModel:
    options = deployment.options
    function = options.get("function")
    return ScriptedModel(
        function=_load_function(function) if isinstance(function, str) else None,
        replies=options.get("replies"),
        delay_seconds=float(options.get("delay_seconds", 0.0)),
        dimensions=int(options.get("dimensions", 64)),
    )


def chat_provider(deployment: Deployment) -> ScriptedModel:
    return _from_deployment(deployment)


def embedding_provider(deployment: Deployment) -> ScriptedModel:
    return _from_deployment(deployment)


class ScriptedReranker:
    """Reranks by the share of the query's words a document contains (deterministic), so
    tests can tell a reranked order from the search's own."""

    async def rerank(self, query: str, documents: list[str]) -> RerankScores:
        words = set(query.lower().split())
        scores = [len(words & set(text.lower().split())) / max(len(words), 1) for text in documents]
        tokens = count_tokens(query) * len(documents) + sum(count_tokens(d) for d in documents)
        return RerankScores(scores=scores, input_tokens=tokens)

    async def aclose(self) -> None:
        return None


def rerank_provider(deployment: Deployment) -> ScriptedReranker:
    return ScriptedReranker()
