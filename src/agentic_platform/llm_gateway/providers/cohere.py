"""The ``cohere`` provider: rerank on any server that speaks Cohere's ``/rerank``.

Cohere's own API, Jina's, LiteLLM's proxy, Infinity and Hugging Face's text-embeddings-
inference all take ``{model, query, documents, top_n}`` and answer ``results`` of
``{index, relevance_score}``. ``api_base`` is the URL before ``/rerank`` (default Cohere's
``https://api.cohere.com/v2``); the key, if any, goes as a bearer token. Input tokens are
the upstream's count when it reports one (Cohere's ``meta.tokens``, Jina's ``usage``), else
counted from the text.
"""

from __future__ import annotations

from typing import Any

import orjson
from yarl import URL

from agentic_platform.governance.metering import counted_tokens
from agentic_platform.llm_gateway.catalog import Deployment
from agentic_platform.llm_gateway.providers.http_upstream import HTTPUpstream
from agentic_platform.llm_gateway.rerank_schemas import RerankScores

DEFAULT_API_BASE = "https://api.cohere.com/v2"


def _input_tokens(answer: dict[str, Any], query: str, documents: list[str]) -> int:
    meta = answer.get("meta") or {}
    tokens = (meta.get("tokens") or {}).get("input_tokens")
    if tokens is None:
        tokens = (answer.get("usage") or {}).get("total_tokens")
    if isinstance(tokens, int | float) and tokens >= 0:
        return int(tokens)
    return counted_tokens(len(query)) * len(documents) + sum(
        counted_tokens(len(text)) for text in documents
    )


class CohereReranker:
    """Reranks through one Cohere-compatible deployment."""

    def __init__(self, deployment: Deployment) -> None:
        key = deployment.resolve_api_key()
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._http = HTTPUpstream(deployment, headers=headers, secret=key)
        self._model = deployment.model
        base = (deployment.api_base or DEFAULT_API_BASE).rstrip("/")
        self._url = URL(f"{base}/rerank")

    async def rerank(self, query: str, documents: list[str]) -> RerankScores:
        body = orjson.dumps(
            {"model": self._model, "query": query, "documents": documents, "top_n": len(documents)}
        )
        answer = await self._http.post_json(self._url, body)
        scores = [float("-inf")] * len(documents)
        try:
            for result in answer["results"]:
                scores[int(result["index"])] = float(result["relevance_score"])
        except (KeyError, TypeError, ValueError, IndexError):
            raise self._http.unreadable() from None
        if float("-inf") in scores:
            raise self._http.unreadable()
        return RerankScores(scores=scores, input_tokens=_input_tokens(answer, query, documents))

    async def aclose(self) -> None:
        await self._http.aclose()


def rerank_provider(deployment: Deployment) -> CohereReranker:
    return CohereReranker(deployment)
