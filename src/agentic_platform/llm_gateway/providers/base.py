"""The contract every model provider fulfils.

A provider instance serves one :class:`~agentic_platform.llm_gateway.catalog.Deployment`. It
receives the validated client request and returns canonical responses; the gateway service
around it handles aliases, retries, fallback, usage and the response's ``model`` field.

Providers raise :class:`~agentic_platform.errors.UpstreamError` subclasses for upstream
failures (``retryable`` ones may be retried and fall back) and
:class:`~agentic_platform.errors.UnsupportedFeatureError` for requests they cannot serve.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from agentic_platform.llm_gateway.rerank_schemas import RerankScores
from agentic_platform.llm_gateway.schemas import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    EmbeddingResult,
)


def upstream_model(deployment_model: str, request: ChatCompletionRequest) -> str:
    """The model id to send upstream: the deployment's, or for a wildcard deployment (its
    model holds a ``*``) the request's, which the gateway has set to the resolved id."""
    return request.model if "*" in deployment_model else deployment_model


@runtime_checkable
class ChatProvider(Protocol):
    async def complete(self, request: ChatCompletionRequest) -> ChatCompletion:
        """One whole answer. ``usage`` must be filled in."""
        ...

    def stream(self, request: ChatCompletionRequest) -> AsyncIterator[ChatCompletionChunk]:
        """The answer as chunks. The last chunk carries ``usage`` (the gateway decides whether
        the client sees it). Errors after the first chunk are raised from the iterator."""
        ...

    async def aclose(self) -> None:
        """Release connections and threads; called once at shutdown."""
        ...


@runtime_checkable
class EmbeddingProvider(Protocol):
    async def embed(self, texts: list[str]) -> EmbeddingResult:
        """One vector per text, in order."""
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class RerankProvider(Protocol):
    async def rerank(self, query: str, documents: list[str]) -> RerankScores:
        """A relevance score per document, in order (higher is more relevant)."""
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class TokenEmbeddingProvider(EmbeddingProvider, Protocol):
    """An embedding provider that also takes token ids (an OpenAI-compatible upstream, whose
    API accepts them). Only the client's tokenizer knows what the ids mean, so a provider
    that tokenizes itself (the local embedder) does not offer this."""

    async def embed_tokens(self, tokens: list[list[int]]) -> EmbeddingResult:
        """One vector per token list, in order."""
        ...
