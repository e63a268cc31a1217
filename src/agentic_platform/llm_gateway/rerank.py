"""Reranking: the rerank models of the catalog, called with retries and fallback.

A catalog entry of kind ``rerank`` names deployments of the ``cohere`` provider (any
Cohere-compatible server), ``bedrock`` (Bedrock's rerank models) or ``test`` (the scripted,
deterministic one). The answer is Cohere's shape whichever served it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from agentic_platform.llm_gateway.catalog import Deployment, ModelCatalog
from agentic_platform.llm_gateway.providers.base import RerankProvider
from agentic_platform.llm_gateway.providers.registry import build_rerank_provider
from agentic_platform.llm_gateway.rerank_schemas import (
    RerankBilledUnits,
    RerankDocument,
    RerankMeta,
    RerankRequest,
    RerankResponse,
    RerankResult,
    RerankScores,
    RerankTokens,
    RerankUsage,
)
from agentic_platform.llm_gateway.resilience import Backoff, FailureObserver, call_with_fallback


@dataclass(frozen=True, slots=True)
class RerankOutcome:
    response: RerankResponse
    deployment: Deployment


class Rerankers:
    """One provider per rerank deployment, built once at start-up."""

    def __init__(
        self, catalog: ModelCatalog, backoff: Backoff, on_failure: FailureObserver | None
    ) -> None:
        self._catalog = catalog
        self._backoff = backoff
        self._on_failure = on_failure
        self._providers: dict[tuple[str, int], RerankProvider] = {
            (entry.alias, index): build_rerank_provider(deployment)
            for entry in catalog
            if entry.kind == "rerank"
            for index, deployment in enumerate(entry.deployments)
        }

    async def rerank(self, request: RerankRequest) -> RerankOutcome:
        entry = self._catalog.get(request.model, "rerank")
        texts = request.texts

        async def attempt(index: int, _deployment: Deployment) -> RerankScores:
            return await self._providers[(entry.alias, index)].rerank(request.query, texts)

        scored, deployment = await call_with_fallback(
            entry.deployments, attempt, self._backoff, self._on_failure
        )
        order = sorted(range(len(texts)), key=lambda i: scored.scores[i], reverse=True)
        if request.top_n is not None:
            order = order[: request.top_n]
        results = [
            RerankResult(
                index=i,
                relevance_score=scored.scores[i],
                document=_document(request, i) if request.return_documents else None,
            )
            for i in order
        ]
        tokens = scored.input_tokens
        response = RerankResponse(
            id=f"rerank-{uuid.uuid4().hex}",
            model=entry.alias,
            results=results,
            meta=RerankMeta(
                billed_units=RerankBilledUnits(search_units=1),
                tokens=RerankTokens(input_tokens=tokens),
            ),
            usage=RerankUsage(prompt_tokens=tokens, total_tokens=tokens),
        )
        return RerankOutcome(response, deployment)

    async def aclose(self) -> None:
        for provider in self._providers.values():
            await provider.aclose()


def _document(request: RerankRequest, index: int) -> RerankDocument:
    document = request.documents[index]
    return RerankDocument(text=document) if isinstance(document, str) else document
