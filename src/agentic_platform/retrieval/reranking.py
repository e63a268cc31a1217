"""The optional second stage of a search: a rerank model reorders the best candidates.

Which model: the request's ``rerank`` (an alias; ``true`` for the knowledge base's default,
else the platform's ``retrieval.default_rerank_model``; ``false`` for none), else the
knowledge base's ``rerank_model`` when every searched knowledge base names the same one. The
call goes through the LLM gateway's ``/rerank`` as the caller (so it is limited and metered as
theirs); the reranker reads each chunk with its document's title. A reranked chunk's score
is the reranker's relevance score.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from agentic_platform.auth.principal import Principal
from agentic_platform.clients.llm import GatewayClientError
from agentic_platform.errors import (
    InvalidRequestError,
    ModelNotFoundError,
    PlatformError,
    UpstreamUnavailableError,
)
from agentic_platform.retrieval.grouping import Candidate
from agentic_platform.retrieval.models import KnowledgeBaseRow
from agentic_platform.retrieval.schemas import RetrieveRequest
from agentic_platform.search.embedding import EmbedderClients

RERANK_CANDIDATES = 50
"""How many of the search's best chunks the reranker reads (at least ``top_k``)."""


def rerank_model(
    rows: Sequence[KnowledgeBaseRow], request: RetrieveRequest, platform_default: str | None
) -> str | None:
    """The rerank model this search uses, or None; see the module docstring."""
    if request.rerank is False:
        return None
    if isinstance(request.rerank, str):
        return request.rerank
    defaults = {row.backend_options.get("rerank_model") for row in rows}
    shared = defaults.pop() if len(defaults) == 1 else None
    if request.rerank is None:
        return shared if isinstance(shared, str) else None
    chosen = shared if isinstance(shared, str) else platform_default
    if chosen is None:
        raise InvalidRequestError(
            'rerank: true needs a rerank model: name one ("rerank": "<alias>"), set the '
            "knowledge base's rerank_model, or retrieval.default_rerank_model.",
            param="rerank",
            code="no_rerank_model",
        )
    return chosen


def _as_platform_error(error: GatewayClientError, model: str) -> PlatformError:
    if error.status_code == 404:
        return ModelNotFoundError(
            f"The rerank model '{model}' is not in the catalog: {error.message}", param="rerank"
        )
    if error.status_code < 500 and error.status_code not in (401, 403, 429):
        return InvalidRequestError(
            f"The rerank model refused the request: {error.message}",
            param="rerank",
            code="rerank_refused",
        )
    failure = UpstreamUnavailableError(f"Reranking failed: {error.message}")
    failure.status_code = error.status_code if error.status_code >= 400 else 502
    if error.status_code == 429:
        failure.error_type = "rate_limit_error"
    return failure


async def rerank(
    clients: EmbedderClients,
    principal: Principal,
    model: str,
    query: str,
    candidates: list[Candidate],
) -> list[Candidate]:
    """The candidates in the reranker's order, scored by it."""
    if not candidates:
        return candidates
    texts = [
        f"{c.chunk.title}\n{c.chunk.text}" if c.chunk.title else c.chunk.text for c in candidates
    ]
    try:
        answer = await clients.client_for(principal).rerank(
            model=model, query=query, documents=texts
        )
    except GatewayClientError as error:
        raise _as_platform_error(error, model) from None
    except httpx.HTTPError as error:
        raise UpstreamUnavailableError(
            f"The LLM gateway could not be reached for reranking ({type(error).__name__})."
        ) from None
    ordered = []
    for result in answer.results:
        candidate = candidates[result.index]
        candidate.chunk.score = result.relevance_score
        ordered.append(candidate)
    return ordered
