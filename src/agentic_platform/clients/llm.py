"""A typed client for the LLM gateway's OpenAI-compatible API."""

from __future__ import annotations

import base64
import struct
from collections.abc import AsyncIterator
from typing import Any

import orjson

from agentic_platform.clients.base import ApiClient, raise_for
from agentic_platform.errors import PlatformError, UpstreamError
from agentic_platform.llm_gateway.rerank_schemas import RerankResponse
from agentic_platform.llm_gateway.schemas import (
    ChatCompletion,
    ChatCompletionChunk,
    EmbeddingResponse,
    ModelList,
)


class GatewayClientError(PlatformError):
    """The gateway answered with an error; ``status_code`` and the message are the gateway's."""


class LLMClient(ApiClient):
    api = "/llm/v1"
    default_timeout = 120.0

    async def models(self) -> ModelList:
        response = await self._http.get("/models")
        raise_for(response, GatewayClientError)
        return ModelList.model_validate_json(response.content)

    async def chat(self, **request: Any) -> ChatCompletion:
        response = await self._http.post("/chat/completions", json={**request, "stream": False})
        raise_for(response, GatewayClientError)
        return ChatCompletion.model_validate_json(response.content)

    async def embeddings(
        self, *, model: str, input: str | list[str], **request: Any
    ) -> EmbeddingResponse:
        """Embed one text or a batch (``encoding_format="base64"`` saves parsing time on
        large batches; decode with :func:`decode_embedding`)."""
        payload = {**request, "model": model, "input": input}
        response = await self._http.post("/embeddings", json=payload)
        raise_for(response, GatewayClientError)
        return EmbeddingResponse.model_validate_json(response.content)

    async def rerank(
        self, *, model: str, query: str, documents: list[str], **request: Any
    ) -> RerankResponse:
        """Order ``documents`` by relevance to ``query`` (``/rerank``, Cohere's shape)."""
        payload = {**request, "model": model, "query": query, "documents": documents}
        response = await self._http.post("/rerank", json=payload)
        raise_for(response, GatewayClientError)
        return RerankResponse.model_validate_json(response.content)

    async def stream_chat(self, **request: Any) -> AsyncIterator[ChatCompletionChunk]:
        payload = {**request, "stream": True, "stream_options": {"include_usage": True}}
        async with self._http.stream("POST", "/chat/completions", json=payload) as response:
            if response.status_code >= 400:
                await response.aread()
                raise_for(response, GatewayClientError)
            async for line in response.aiter_lines():
                if not line.startswith("data: "):
                    continue
                data = line[len("data: ") :]
                if data == "[DONE]":
                    return
                decoded = orjson.loads(data)
                if "error" in decoded:
                    raise UpstreamError(str(decoded["error"].get("message", "stream failed")))
                yield ChatCompletionChunk.model_validate(decoded)


def decode_embedding(embedding: list[float] | str) -> list[float]:
    """A vector from an embeddings response, in either encoding."""
    if isinstance(embedding, list):
        return embedding
    raw = base64.b64decode(embedding)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))
