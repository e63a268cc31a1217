"""Amazon Bedrock Knowledge Bases, read-only, through the Retrieve API.

A collection is a Bedrock knowledge base id. Bedrock embeds the query itself and keeps the
documents (ingested on the AWS side, e.g. from S3), so writes are refused. Our filter grammar
maps onto Bedrock's retrieval filter (:func:`to_bedrock`); ``top_k`` beyond one page is
fetched by following ``nextToken``. The boto3 client is synchronous, so calls run in a worker
thread. Needs the ``bedrock`` extra (boto3).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from typing import Any

from agentic_platform.errors import (
    ConfigurationError,
    UnsupportedFeatureError,
    UpstreamError,
    UpstreamRequestError,
    UpstreamUnavailableError,
)
from agentic_platform.search.backends.base import IndexRecord, SearchHit, SearchQuery
from agentic_platform.search.filters import AllOf, Condition, Filter

PAGE_SIZE = 100
_OPERATORS = {
    "eq": "equals",
    "neq": "notEquals",
    "gt": "greaterThan",
    "gte": "greaterThanOrEquals",
    "lt": "lessThan",
    "lte": "lessThanOrEquals",
    "in": "in",
    "not_in": "notIn",
    "starts_with": "startsWith",
}


def _group(kind: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Bedrock's ``andAll``/``orAll`` take at least two members."""
    return parts[0] if len(parts) == 1 else {kind: parts}


def to_bedrock(node: Filter) -> dict[str, Any]:
    """Our filter as a Bedrock ``RetrievalFilter``. ``contains`` becomes ``stringContains``
    or ``listContains`` (both for a string value, since either field kind may hold it)."""
    if isinstance(node, Condition):
        attribute = {"key": node.field, "value": node.value}
        if node.op != "contains":
            return {_OPERATORS[node.op]: attribute}
        if isinstance(node.value, str):
            return {"orAll": [{"stringContains": attribute}, {"listContains": attribute}]}
        return {"listContains": attribute}
    if isinstance(node, AllOf):
        return _group("andAll", [to_bedrock(child) for child in node.all_of])
    return _group("orAll", [to_bedrock(child) for child in node.any_of])


def _client(region: str | None) -> Any:
    try:
        import boto3
    except ImportError as exc:
        raise ConfigurationError(
            "the bedrock backend needs the 'bedrock' extra: pip install 'agentic-platform[bedrock]'"
        ) from exc
    return boto3.client("bedrock-agent-runtime", region_name=region)


class BedrockSearchBackend:
    """A read-only :class:`~.base.SearchBackend` over Bedrock knowledge bases. ``client`` is a
    ready ``bedrock-agent-runtime`` client (tests pass one wrapped in botocore's Stubber)."""

    embeds_queries = True

    def __init__(self, region: str | None = None, *, client: Any = None) -> None:
        self._region = region
        self._client_instance = client

    @property
    def _client(self) -> Any:
        if self._client_instance is None:
            self._client_instance = _client(self._region)
        return self._client_instance

    async def upsert(self, collection: str, records: Sequence[IndexRecord]) -> None:
        raise UnsupportedFeatureError(
            "Bedrock knowledge bases are read-only here: ingest through Bedrock's own data "
            "sources.",
            code="read_only_backend",
        )

    async def delete(
        self, collection: str, *, ids: Sequence[str] | None = None, where: Filter | None = None
    ) -> int:
        await self.upsert(collection, [])
        return 0

    async def search(self, collection: str, query: SearchQuery) -> list[SearchHit]:
        if query.mode == "lexical":
            raise UnsupportedFeatureError(
                "Bedrock knowledge bases search semantically or hybrid, not lexically only.",
                param="search_type",
            )
        hits: list[SearchHit] = []
        token: str | None = None
        while len(hits) < query.top_k:
            page, token = await asyncio.to_thread(
                self._retrieve, collection, query, query.top_k - len(hits), token
            )
            hits.extend(page)
            if not token or not page:
                break
        if query.min_score is not None:
            hits = [hit for hit in hits if hit.score >= query.min_score]
        return hits[: query.top_k]

    def _retrieve(
        self, knowledge_base_id: str, query: SearchQuery, wanted: int, token: str | None
    ) -> tuple[list[SearchHit], str | None]:
        vector_search: dict[str, Any] = {
            "numberOfResults": min(wanted, PAGE_SIZE),
            "overrideSearchType": "HYBRID" if query.mode == "hybrid" else "SEMANTIC",
        }
        if query.filter is not None:
            vector_search["filter"] = to_bedrock(query.filter)
        request: dict[str, Any] = {
            "knowledgeBaseId": knowledge_base_id,
            "retrievalQuery": {"text": query.text},
            "retrievalConfiguration": {"vectorSearchConfiguration": vector_search},
        }
        if token:
            request["nextToken"] = token
        try:
            response = self._client.retrieve(**request)
        except Exception as exc:
            raise _upstream_error(exc) from exc
        hits = [_hit(result) for result in response.get("retrievalResults", [])]
        return hits, response.get("nextToken")

    async def fetch(self, collection: str, ids: Sequence[str]) -> list[SearchHit]:
        """Bedrock's Retrieve API reads no record by id: no neighbours from here."""
        return []

    async def drop(self, collection: str) -> None:
        return None

    async def aclose(self) -> None:
        self._client_instance = None


def _hit(result: dict[str, Any]) -> SearchHit:
    metadata = dict(result.get("metadata") or {})
    text = str((result.get("content") or {}).get("text", ""))
    location = result.get("location") or {}
    chunk_id = metadata.get("x-amz-bedrock-kb-chunk-id")
    if not isinstance(chunk_id, str):
        chunk_id = hashlib.sha256(f"{location}{text}".encode()).hexdigest()[:32]
    return SearchHit(
        id=chunk_id,
        score=float(result.get("score") or 0.0),
        text=text,
        metadata=metadata,
        payload={"location": location},
    )


def _upstream_error(exc: Exception) -> UpstreamError:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return UpstreamUnavailableError("Bedrock could not be reached.")
    code = str(response.get("Error", {}).get("Code", ""))
    message = str(response.get("Error", {}).get("Message", ""))
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 500)
    if code in ("ValidationException", "ResourceNotFoundException"):
        return UpstreamRequestError(
            f"Bedrock refused the search: {message}", upstream_status=status
        )
    if code in ("AccessDeniedException", "UnrecognizedClientException"):
        failure: UpstreamError = UpstreamError(
            "Bedrock refused the platform's credentials.", code="upstream_auth_failed"
        )
        return failure
    return UpstreamUnavailableError(f"Bedrock failed ({code or status}).", upstream_status=status)
