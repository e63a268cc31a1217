"""A typed client for the LLM gateway's OpenAI-compatible API."""

from __future__ import annotations

import base64
import struct
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson

from agentic_platform.errors import PlatformError, UpstreamError
from agentic_platform.llm_gateway.schemas import (
    ChatCompletion,
    ChatCompletionChunk,
    EmbeddingResponse,
    ModelList,
)


class GatewayClientError(PlatformError):
    """The gateway answered with an error; ``status_code`` and the message are the gateway's."""


def _raise_for(response: httpx.Response, body: bytes) -> None:
    if response.status_code < 400:
        return
    message = f"HTTP {response.status_code}"
    try:
        error = orjson.loads(body)["error"]
        message = str(error["message"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        pass
    failure = GatewayClientError(message)
    failure.status_code = response.status_code
    raise failure


class LLMClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 120.0,
        headers: dict[str, str] | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/llm/v1",
            headers={"Authorization": f"Bearer {api_key}", **(headers or {})},
            transport=transport,
            timeout=timeout,
        )

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def models(self) -> ModelList:
        response = await self._http.get("/models")
        _raise_for(response, response.content)
        return ModelList.model_validate_json(response.content)

    async def chat(self, **request: Any) -> ChatCompletion:
        response = await self._http.post("/chat/completions", json={**request, "stream": False})
        _raise_for(response, response.content)
        return ChatCompletion.model_validate_json(response.content)

    async def embeddings(
        self, *, model: str, input: str | list[str], **request: Any
    ) -> EmbeddingResponse:
        """Embed one text or a batch (``encoding_format="base64"`` saves parsing time on
        large batches; decode with :func:`decode_embedding`)."""
        payload = {**request, "model": model, "input": input}
        response = await self._http.post("/embeddings", json=payload)
        _raise_for(response, response.content)
        return EmbeddingResponse.model_validate_json(response.content)

    async def stream_chat(self, **request: Any) -> AsyncIterator[ChatCompletionChunk]:
        payload = {**request, "stream": True, "stream_options": {"include_usage": True}}
        async with self._http.stream("POST", "/chat/completions", json=payload) as response:
            if response.status_code >= 400:
                _raise_for(response, await response.aread())
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
