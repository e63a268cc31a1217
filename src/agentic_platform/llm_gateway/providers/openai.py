"""The ``openai`` provider: OpenAI and every OpenAI-compatible server (vLLM, Ollama, the
llama.cpp server, LiteLLM...).

The canonical request *is* the OpenAI request, so the adapter forwards it almost untouched:
only ``model`` is replaced by the deployment's model id, and streaming always asks for the
usage chunk (``stream_options.include_usage``) because the gateway records usage whether or
not the client wants to see it. Fields the gateway does not know are forwarded as well, so
newer OpenAI options keep working without a gateway release.

The adapter sits on the gateway's hot path, so it keeps one pooled keep-alive session per
deployment, builds URLs once and encodes and decodes with orjson.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from operator import itemgetter
from typing import Any

import orjson
from pydantic import ValidationError
from yarl import URL

from agentic_platform.llm_gateway.catalog import Deployment
from agentic_platform.llm_gateway.providers.base import upstream_model
from agentic_platform.llm_gateway.providers.http_upstream import HTTPUpstream
from agentic_platform.llm_gateway.schemas import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    EmbeddingResult,
)

DEFAULT_API_BASE = "https://api.openai.com/v1"
_DONE = b"[DONE]"
_STREAM_OPTIONS = {"include_usage": True}


class OpenAIProvider:
    """Chat and embeddings against one OpenAI-compatible deployment."""

    def __init__(self, deployment: Deployment) -> None:
        key = deployment.resolve_api_key()
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._http = HTTPUpstream(deployment, headers=headers, secret=key)
        self._model = deployment.model
        self._dimensions = deployment.options.get("dimensions")
        base = (deployment.api_base or DEFAULT_API_BASE).rstrip("/")
        self._chat_url = URL(f"{base}/chat/completions")
        self._embeddings_url = URL(f"{base}/embeddings")

    def _body(self, request: ChatCompletionRequest, *, stream: bool) -> bytes:
        body = request.model_dump(exclude_none=True, by_alias=True)
        body["model"] = upstream_model(self._model, request)
        body["stream"] = stream
        if stream:
            body["stream_options"] = _STREAM_OPTIONS
        else:
            # OpenAI rejects stream_options on a non-streaming call.
            body.pop("stream_options", None)
        return orjson.dumps(body)

    async def complete(self, request: ChatCompletionRequest) -> ChatCompletion:
        """One whole answer, as the upstream returned it."""
        data = await self._http.post_json(self._chat_url, self._body(request, stream=False))
        if isinstance(data, dict) and data.get("usage", 0) is None:
            del data["usage"]  # some compatible servers send "usage": null
        try:
            return ChatCompletion.model_validate(data)
        except ValidationError as exc:
            raise self._http.unreadable() from exc

    async def stream(self, request: ChatCompletionRequest) -> AsyncIterator[ChatCompletionChunk]:
        """The upstream's chunks, ending with its usage chunk. An error event in the stream,
        or a stream that ends before ``[DONE]`` or a finish reason, is raised as an
        UpstreamError; stopping early closes the upstream connection."""
        events = self._http.post_events(self._chat_url, self._body(request, stream=True))
        done = finished = False
        async with aclosing(events):
            async for data in events:
                if done:
                    continue  # read on to the end of the body so the connection is reused
                if data == _DONE:
                    done = True
                    continue
                chunk = self._chunk(data)
                if chunk.choices and chunk.choices[0].finish_reason:
                    finished = True
                yield chunk
        if not (done or finished):
            raise self._http.cut_short()

    def _chunk(self, data: bytes) -> ChatCompletionChunk:
        payload = self._http.decode(data)
        if isinstance(payload, dict) and "error" in payload:
            raise self._http.event_error(payload["error"])
        try:
            return ChatCompletionChunk.model_validate(payload)
        except ValidationError as exc:
            raise self._http.unreadable() from exc

    async def embed(self, texts: list[str]) -> EmbeddingResult:
        """One float vector per text, in input order whatever order the upstream used."""
        return await self._embed(texts)

    async def embed_tokens(self, tokens: list[list[int]]) -> EmbeddingResult:
        """One float vector per token list: the OpenAI API takes token ids as input too."""
        return await self._embed(tokens)

    async def _embed(self, texts: list[str] | list[list[int]]) -> EmbeddingResult:
        body: dict[str, Any] = {"model": self._model, "input": texts, "encoding_format": "float"}
        if self._dimensions is not None:
            body["dimensions"] = self._dimensions
        data = await self._http.post_json(self._embeddings_url, orjson.dumps(body))
        try:
            items = sorted(data["data"], key=itemgetter("index"))
            usage = data.get("usage") or {}
            result = EmbeddingResult(
                vectors=[item["embedding"] for item in items],
                prompt_tokens=usage.get("prompt_tokens") or 0,
            )
        except (KeyError, TypeError, AttributeError, ValidationError) as exc:
            raise self._http.unreadable() from exc
        if len(result.vectors) != len(texts):
            raise self._http.unreadable()
        return result

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._http.aclose()


def chat_provider(deployment: Deployment) -> OpenAIProvider:
    return OpenAIProvider(deployment)


def embedding_provider(deployment: Deployment) -> OpenAIProvider:
    return OpenAIProvider(deployment)
