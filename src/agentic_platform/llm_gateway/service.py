"""The gateway's logic: resolve an alias, check what the model can do, call its deployments
in the order the balancer chose, with retries, fallback and cooldowns, and shape the
answer."""

from __future__ import annotations

import asyncio
import base64
import random
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from agentic_platform.errors import UnsupportedFeatureError, UpstreamError, UpstreamTimeoutError
from agentic_platform.llm_gateway.balancing import Balancer
from agentic_platform.llm_gateway.breaker import Breakers, CooldownSettings, Key
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
from agentic_platform.llm_gateway.rerank import Rerankers
from agentic_platform.llm_gateway.resilience import Backoff, call_with_fallback, falls_back
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

T = TypeVar("T")


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
    """Owns one provider instance per deployment, built once at start-up, and the
    per-process routing state (calls in flight, cooldowns)."""

    def __init__(
        self,
        catalog: ModelCatalog,
        backoff: Backoff,
        metrics: PlatformMetrics | None = None,
        *,
        cooldown: CooldownSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self.catalog = catalog
        self._backoff = backoff
        self._metrics = metrics
        self.breakers = Breakers(cooldown or CooldownSettings(), clock)
        self.balancer = Balancer(self.breakers, draw)
        self._chat: dict[tuple[str, int], ChatProvider] = {}
        self._embedders: dict[tuple[str, int], EmbeddingProvider] = {}
        self.rerankers = Rerankers(catalog, backoff, self._on_failure)
        for entry in catalog:  # a wildcard's providers serve every model under it
            for index, deployment in enumerate(entry.deployments):
                if entry.kind == "rerank":
                    continue
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
        await self.rerankers.aclose()

    def _chat_provider(
        self, entry: ModelEntry, index: int, request: ChatCompletionRequest
    ) -> tuple[ChatProvider, ChatCompletionRequest]:
        """The provider of a deployment and the request as it gets it: for a model reached
        through a wildcard, the wildcard's provider, with ``model`` set to the resolved
        upstream id (see :func:`.providers.base.upstream_model`)."""
        provider = self._chat.get((entry.alias, index))
        if provider is not None:
            return provider, request
        upstream = request.model_copy(update={"model": entry.deployments[index].model})
        return self._chat[(entry.route, index)], upstream

    def _on_failure(self, _index: int, deployment: Deployment, error: UpstreamError) -> None:
        if self._metrics is not None:
            self._metrics.upstream_error(provider_name(deployment), error.code or error.error_type)

    async def _routed(
        self, entry: ModelEntry, run: Callable[[int], Awaitable[T]], *, hold: bool = False
    ) -> tuple[T, Key, Deployment]:
        """``run(index)`` on the entry's deployments in the balancer's order, with retries
        and fallback, keeping the in-flight counts and cooldowns. With ``hold`` the winning
        deployment stays in flight until the caller calls ``balancer.ended(key)``."""
        balancer, breakers, alias = self.balancer, self.breakers, entry.alias

        async def attempt(index: int, _deployment: Deployment) -> tuple[T, Key]:
            key = (alias, index)
            balancer.started(key)
            try:
                result = await run(index)
            except UpstreamError:
                balancer.ended(key)  # the failure is judged in failed(), timeouts included
                raise
            except BaseException:
                balancer.ended(key)
                breakers.abandoned(key)
                raise
            if not hold:
                balancer.ended(key)
            breakers.succeeded(key)
            return result, key

        def failed(index: int, deployment: Deployment, error: UpstreamError) -> None:
            self._on_failure(index, deployment, error)
            if falls_back(error):
                breakers.failed((alias, index))
            else:  # the caller's mistake: the deployment answered
                breakers.succeeded((alias, index))

        (result, key), deployment = await call_with_fallback(
            entry.deployments, attempt, self._backoff, failed, balancer.order(entry)
        )
        return result, key, deployment

    def models(self) -> ModelList:
        return ModelList(
            data=[
                ModelCard(id=e.alias, kind=e.kind, capabilities=sorted(e.capabilities))
                for e in self.catalog
            ]
        )

    def chat_entry(self, request: ChatCompletionRequest) -> ModelEntry:
        entry = self.catalog.get(request.model, "chat")
        missing = _required_capabilities(request) - set(entry.capabilities)
        if missing:
            raise UnsupportedFeatureError(
                f"The model '{entry.alias}' does not support: {', '.join(sorted(missing))}.",
                param="model",
            )
        return entry

    def chat_provider(self, alias: str) -> ChatProvider:
        """The provider of an alias's first deployment (the one a call tries first)."""
        entry = self.catalog.get(alias, "chat")
        return self._chat[(entry.alias, 0)]

    async def complete(self, request: ChatCompletionRequest) -> ChatOutcome:
        entry = self.chat_entry(request)

        async def run(index: int) -> ChatCompletion:
            provider, upstream = self._chat_provider(entry, index, request)
            return await provider.complete(upstream)

        completion, _key, deployment = await self._routed(entry, run)
        completion.model = entry.alias
        return ChatOutcome(completion, deployment)

    async def stream(
        self, request: ChatCompletionRequest
    ) -> tuple[AsyncIterator[ChatCompletionChunk], Deployment]:
        """Opens the stream and waits for its first chunk, so failures before any output
        are retried, fall back, and reach the client as a plain HTTP error."""
        entry = self.chat_entry(request)

        async def run(
            index: int,
        ) -> tuple[ChatCompletionChunk, AsyncIterator[ChatCompletionChunk]]:
            provider, upstream = self._chat_provider(entry, index, request)
            chunks = aiter(provider.stream(upstream))
            try:
                first = await anext(chunks)
            except BaseException:
                await _close(chunks)
                raise
            return first, chunks

        (first, chunks), key, deployment = await self._routed(entry, run, hold=True)
        ended = partial(self.balancer.ended, key)
        return _relabel(first, chunks, entry.alias, deployment.timeout_seconds, ended), deployment

    async def embed(self, request: EmbeddingRequest) -> EmbedOutcome:
        entry = self.catalog.get(request.model, "embedding")

        tokens = request.tokens

        async def run(index: int) -> EmbeddingResult:
            provider = self._embedders[(entry.alias, index)]
            if tokens is None:
                return await provider.embed(request.texts)
            if not isinstance(provider, TokenEmbeddingProvider):
                raise tokens_not_accepted(entry.alias)
            return await provider.embed_tokens(tokens)

        result, _key, deployment = await self._routed(entry, run)
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
    ended: Callable[[], None],
) -> AsyncIterator[ChatCompletionChunk]:
    """The stream as the client sees it: the alias as model, and no upstream that stalls
    longer than the deployment's timeout between chunks. ``ended`` is called when it ends
    (the deployment's call is no longer in flight)."""
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
        ended()
        await _close(chunks)
