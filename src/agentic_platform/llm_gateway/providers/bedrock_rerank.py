"""Amazon Bedrock's rerank models (``cohere.rerank-v3-5:0``, ``amazon.rerank-v1:0``) through
``bedrock-runtime`` InvokeModel, on the same client, threads and error mapping as the other
Bedrock calls. Both models take ``{query, documents, top_n}`` (Cohere also
``api_version: 2``) and answer ``results`` of ``{index, relevance_score}``. Bedrock reports no
token count for rerank: input tokens are counted from the text.
"""

from __future__ import annotations

import json
from typing import Any

from agentic_platform.errors import UpstreamError
from agentic_platform.governance.metering import counted_tokens
from agentic_platform.llm_gateway.providers.bedrock_client import BedrockCaller
from agentic_platform.llm_gateway.rerank_schemas import RerankScores


def rerank_body(model: str, query: str, documents: list[str]) -> bytes:
    body: dict[str, Any] = {"query": query, "documents": documents, "top_n": len(documents)}
    if "cohere." in model:
        body["api_version"] = 2
    return json.dumps(body).encode()


def rerank_scores(payload: Any, count: int) -> list[float]:
    scores: list[float | None] = [None] * count
    try:
        for result in payload["results"]:
            scores[int(result["index"])] = float(result["relevance_score"])
    except (KeyError, TypeError, ValueError, IndexError):
        raise UpstreamError(
            "Bedrock returned a rerank response the gateway could not read",
            code="upstream_bad_response",
        ) from None
    if any(score is None for score in scores):
        raise UpstreamError(
            "Bedrock's rerank response left documents unscored", code="upstream_bad_response"
        )
    return [float(score) for score in scores if score is not None]


class BedrockReranker(BedrockCaller):
    """Reranks with one Bedrock rerank model."""

    async def rerank(self, query: str, documents: list[str]) -> RerankScores:
        body = rerank_body(self.deployment.model, query, documents)

        def call() -> Any:
            response = self.client.invoke_model(
                modelId=self.deployment.model,
                body=body,
                contentType="application/json",
                accept="application/json",
            )
            try:
                return json.loads(response["body"].read())
            except ValueError:
                raise UpstreamError(
                    "Bedrock returned a rerank response that is not JSON",
                    code="upstream_bad_response",
                ) from None

        payload = await self._call(call)
        tokens = counted_tokens(len(query)) * len(documents) + sum(
            counted_tokens(len(text)) for text in documents
        )
        return RerankScores(scores=rerank_scores(payload, len(documents)), input_tokens=tokens)
