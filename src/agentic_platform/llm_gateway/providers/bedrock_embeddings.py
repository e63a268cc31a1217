"""Bedrock embeddings through InvokeModel, Titan and Cohere models, and their wire formats."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from agentic_platform.errors import ConfigurationError, UpstreamError
from agentic_platform.llm_gateway.catalog import Deployment
from agentic_platform.llm_gateway.providers.bedrock_client import BedrockCaller, positive_int
from agentic_platform.llm_gateway.schemas import EmbeddingResult

T = TypeVar("T")

COHERE_BATCH = 96
"""Cohere on Bedrock embeds at most this many texts per call."""


class BedrockEmbeddingProvider(BedrockCaller):
    """Embeddings through InvokeModel: Titan text models take one text per call, Cohere
    models a batch of up to 96. Calls run concurrently, at most ``max_concurrency`` at once
    for one request, so a large request cannot monopolise the worker threads' queue."""

    def __init__(self, deployment: Deployment) -> None:
        model = deployment.model
        if "amazon.titan-embed" in model:
            self._family = "titan"
        elif "cohere.embed" in model:
            self._family = "cohere"
        else:
            raise ConfigurationError(
                f"deployment {deployment.name}: Bedrock embeddings support Titan "
                "(amazon.titan-embed-*) and Cohere (cohere.embed-*) models"
            )
        options = deployment.options
        self._dimensions = positive_int(deployment, "dimensions", None)
        super().__init__(deployment)
        self._input_type = str(options.get("input_type", "search_document"))
        self._cohere_extra = {"truncate": options["truncate"]} if "truncate" in options else {}

    async def embed(self, texts: list[str]) -> EmbeddingResult:
        if self._family == "titan":
            results = await self._bounded([self._titan_call(text) for text in texts])
            return EmbeddingResult(
                vectors=[vector for vector, _ in results],
                prompt_tokens=sum(tokens for _, tokens in results),
            )
        batches = [texts[i : i + COHERE_BATCH] for i in range(0, len(texts), COHERE_BATCH)]
        answers = await self._bounded([self._cohere_call(batch) for batch in batches])
        return EmbeddingResult(
            vectors=[vector for vectors, _ in answers for vector in vectors],
            prompt_tokens=sum(tokens for _, tokens in answers),
        )

    async def _bounded(self, calls: list[Callable[[], T]]) -> list[T]:
        """Runs the calls concurrently, in order of results, with a per-request bound."""
        limit = asyncio.Semaphore(self.concurrency)

        async def one(call: Callable[[], T]) -> T:
            async with limit:
                return await self._call(call)

        return list(await asyncio.gather(*(one(call) for call in calls)))

    def _titan_call(self, text: str) -> Callable[[], tuple[list[float], int]]:
        def call() -> tuple[list[float], int]:
            payload, _ = self._invoke(titan_body(text, self._dimensions))
            return titan_result(payload)

        return call

    def _cohere_call(self, batch: list[str]) -> Callable[[], tuple[list[list[float]], int]]:
        def call() -> tuple[list[list[float]], int]:
            body = cohere_body(batch, self._input_type, self._cohere_extra)
            payload, headers = self._invoke(body)
            vectors = cohere_vectors(payload, len(batch))
            counted = headers.get("x-amzn-bedrock-input-token-count")
            tokens = int(counted) if counted else estimate_tokens(batch)
            return vectors, tokens

        return call

    def _invoke(self, body: bytes) -> tuple[Any, Mapping[str, str]]:
        """One InvokeModel call, body read on the same worker thread."""
        response = self.client.invoke_model(
            modelId=self.deployment.model,
            body=body,
            contentType="application/json",
            accept="application/json",
        )
        try:
            payload = json.loads(response["body"].read())
        except ValueError:
            raise UpstreamError("Bedrock returned an embedding response that is not JSON") from None
        headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        return payload, headers


def titan_body(text: str, dimensions: int | None) -> bytes:
    """Titan text embeddings take one text per call."""
    body: dict[str, Any] = {"inputText": text}
    if dimensions is not None:
        body["dimensions"] = dimensions
    return json.dumps(body).encode()


def titan_result(payload: Any) -> tuple[list[float], int]:
    """The vector and the input token count of a Titan answer."""
    try:
        return [float(v) for v in payload["embedding"]], int(payload["inputTextTokenCount"])
    except (KeyError, TypeError, ValueError):
        raise _unreadable_embeddings() from None


def cohere_body(texts: Sequence[str], input_type: str, extra: Mapping[str, Any]) -> bytes:
    """Cohere embeds a batch of up to :data:`COHERE_BATCH` texts per call."""
    return json.dumps({"texts": list(texts), "input_type": input_type, **extra}).encode()


def cohere_vectors(payload: Any, expected: int) -> list[list[float]]:
    """The vectors of a Cohere answer: a plain list, or ``{"float": [...]}`` when the
    answer is keyed by embedding type (embed v4, or ``embedding_types`` requested)."""
    try:
        embeddings = payload["embeddings"]
        if isinstance(embeddings, Mapping):
            embeddings = embeddings["float"]
        vectors = [[float(v) for v in vector] for vector in embeddings]
    except (KeyError, TypeError, ValueError):
        raise _unreadable_embeddings() from None
    if len(vectors) != expected:
        raise _unreadable_embeddings()
    return vectors


def estimate_tokens(texts: Iterable[str]) -> int:
    """About four characters a token: used only when Bedrock reports no count."""
    return sum(max(1, math.ceil(len(text) / 4)) for text in texts)


def _unreadable_embeddings() -> UpstreamError:
    return UpstreamError("Bedrock returned an embedding response in an unexpected shape")
