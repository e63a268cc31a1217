"""The gateway's logic: resolve an alias, check what the model can do, call its deployments
with retries and fallback, and shape the answer."""

from __future__ import annotations

import asyncio
import base64
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agentic_platform.errors import UnsupportedFeatureError, UpstreamError, UpstreamTimeoutError
from agentic_platform.llm_gateway.catalog import Deployment, ModelCatalog, ModelEntry
from agentic_platform.llm_gateway.providers.base import (
    ChatProvider,
    EmbeddingProvider,
    TokenEmbeddingProvider,
)
from agentic_platform.llm_gateway.providers.registry import (
    build_chat_provider,
    build_embedding_provider,
)
from agentic_platform.llm_gateway.resilience import Backoff, call_with_fallback
from agentic_platform.llm_gateway.schemas import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Embedding,
    EmbeddingRequest,
    EmbeddingResponse,
    EmbeddingResult,
    EmbeddingUsage,
    ImagePart,
    ModelCard,
    ModelList,
    UserMessage,
)
from agentic_platform.telemetry.genai import provider_name

if TYPE_CHECKING:
    from agentic_platform.telemetry.metrics import PlatformMetrics


@dataclass(frozen=True, slots=True)
class ChatOutcome:
    completion: ChatCompletion
    deployment: Deployment


@dataclass(frozen=True, slots=True)
class EmbedOutcome:
    response: EmbeddingResponse
    deployment: Deployment


def _required_capabilities(request: ChatCompletionRequest) -> set[str]:
    needed = {"chat"}
    if request.tools and request.tool_choice != "none":
        needed.add("tools")
    if request.response_format is not None and request.response_format.type != "text":
        needed.add("json_schema")
    if request.stream:
        needed.add("streaming")
    for message in request.messages:
        if not isinstance(message, UserMessage) or isinstance(message.content, str):
            continue
        if any(isinstance(part, ImagePart) for part in message.content):
            needed.add("vision")
    return needed


class LLMGateway:
    """Owns one provider instance per deployment, built once at start-up."""

    def __init__(
        self, catalog: ModelCatalog, backoff: Backoff, metrics: PlatformMetrics | None = None
    ) -> None:
        self.catalog = catalog
        self._backoff = backoff
        self._on_failure = self._count_failure if metrics is not None else None
        self._metrics = metrics
        self._chat: dict[tuple[str, int], ChatProvider] = {}
        self._embedders: dict[tuple[str, int], EmbeddingProvider] = {}
        for entry in catalog:
            for index, deployment in enumerate(entry.deployments):
                if entry.kind == "chat":
                    self._chat[(entry.alias, index)] = build_chat_provider(deployment)
                else:
                    self._embedders[(entry.alias, index)] = build_embedding_provider(deployment)

    async def aclose(self) -> None:
        providers: list[ChatProvider | EmbeddingProvider] = [
            *self._chat.values(),
            *self._embedders.values(),
        ]
        for provider in providers:
            await provider.aclose()

    def _count_failure(self, deployment: Deployment, error: UpstreamError) -> None:
        if self._metrics is not None:
            self._metrics.upstream_error(provider_name(deployment), error.code or error.error_type)

    def models(self) -> ModelList:
        return ModelList(data=[ModelCard(id=entry.alias) for entry in self.catalog])

    def chat_entry(self, request: ChatCompletionRequest) -> ModelEntry:
        entry = self.catalog.get(request.model, "chat")
        missing = _required_capabilities(request) - set(entry.capabilities)
        if missing:
            raise UnsupportedFeatureError(
                f"The model '{entry.alias}' does not support: {', '.join(sorted(missing))}.",
                param="model",
            )
        return entry

    async def complete(self, request: ChatCompletionRequest) -> ChatOutcome:
        entry = self.chat_entry(request)

        async def attempt(index: int, _deployment: Deployment) -> ChatCompletion:
            return await self._chat[(entry.alias, index)].complete(request)

        completion, deployment = await call_with_fallback(
            entry.deployments, attempt, self._backoff, self._on_failure
        )
        completion.model = entry.alias
        return ChatOutcome(completion, deployment)

    async def stream(
        self, request: ChatCompletionRequest
    ) -> tuple[AsyncIterator[ChatCompletionChunk], Deployment]:
        """Opens the stream and waits for its first chunk, so failures before any output
        are retried, fall back, and reach the client as a plain HTTP error."""
        entry = self.chat_entry(request)

        async def attempt(
            index: int, _deployment: Deployment
        ) -> tuple[ChatCompletionChunk, AsyncIterator[ChatCompletionChunk]]:
            chunks = aiter(self._chat[(entry.alias, index)].stream(request))
            try:
                first = await anext(chunks)
            except BaseException:
                await _close(chunks)
                raise
            return first, chunks

        (first, chunks), deployment = await call_with_fallback(
            entry.deployments, attempt, self._backoff, self._on_failure
        )
        return _relabel(first, chunks, entry.alias, deployment.timeout_seconds), deployment

    async def embed(self, request: EmbeddingRequest) -> EmbedOutcome:
        entry = self.catalog.get(request.model, "embedding")

        tokens = request.tokens

        async def attempt(index: int, _deployment: Deployment) -> EmbeddingResult:
            provider = self._embedders[(entry.alias, index)]
            if tokens is None:
                return await provider.embed(request.texts)
            if not isinstance(provider, TokenEmbeddingProvider):
                raise tokens_not_accepted(entry.alias)
            return await provider.embed_tokens(tokens)

        result, deployment = await call_with_fallback(
            entry.deployments, attempt, self._backoff, self._on_failure
        )
        if request.dimensions is not None and result.vectors:
            natural = len(result.vectors[0])
            if request.dimensions != natural:
                raise UnsupportedFeatureError(
                    f"The model '{entry.alias}' returns {natural}-dimensional vectors; "
                    f"dimensions={request.dimensions} is not supported.",
                    param="dimensions",
                )
        data = [
            Embedding(index=i, embedding=_encode(vector, request.encoding_format))
            for i, vector in enumerate(result.vectors)
        ]
        usage = EmbeddingUsage(
            prompt_tokens=result.prompt_tokens, total_tokens=result.prompt_tokens
        )
        return EmbedOutcome(
            EmbeddingResponse(data=data, model=entry.alias, usage=usage), deployment
        )


def tokens_not_accepted(alias: str) -> UnsupportedFeatureError:
    return UnsupportedFeatureError(
        f"The model '{alias}' embeds text, not token ids: send input as a string or a list "
        "of strings. LangChain's OpenAIEmbeddings sends token ids unless it is created with "
        "check_embedding_ctx_length=False.",
        param="input",
        code="token_input_not_supported",
    )


def _encode(vector: list[float], encoding: str) -> list[float] | str:
    if encoding == "float":
        return vector
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


async def _close(chunks: AsyncIterator[ChatCompletionChunk]) -> None:
    closer = getattr(chunks, "aclose", None)
    if closer is not None:
        await closer()


async def _relabel(
    first: ChatCompletionChunk,
    chunks: AsyncIterator[ChatCompletionChunk],
    alias: str,
    idle_timeout: float,
) -> AsyncIterator[ChatCompletionChunk]:
    """The stream as the client sees it: the alias as model, and no upstream that stalls
    longer than the deployment's timeout between chunks."""
    try:
        first.model = alias
        yield first
        while True:
            try:
                async with asyncio.timeout(idle_timeout):
                    chunk = await anext(chunks)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise UpstreamTimeoutError(
                    f"The model stopped sending for more than {idle_timeout:g}s."
                ) from None
            chunk.model = alias
            yield chunk
    finally:
        await _close(chunks)
