"""Amazon Bedrock Knowledge Bases, read-only, checked at the wire with botocore's Stubber:
the Retrieve requests we send (results wanted, search type, our filter in Bedrock's shape,
pagination) and what we make of the answers, directly and through the HTTP API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import TypeAdapter
from retrieval_harness import SERVICES, retrieval_settings

from agentic_platform.app import create_app
from agentic_platform.errors import UnsupportedFeatureError, UpstreamRequestError
from agentic_platform.search.backends.base import SearchQuery
from agentic_platform.search.filters import Filter
from agentic_platform.testing.server import serve_in_thread

boto3 = pytest.importorskip("boto3")
from botocore.stub import Stubber  # noqa: E402

from agentic_platform.search.backends.bedrock import BedrockSearchBackend, to_bedrock  # noqa: E402

FILTER: TypeAdapter[Filter] = TypeAdapter(Filter)
KB_ID = "KBID123456"


def _client() -> Any:
    return boto3.client(
        "bedrock-agent-runtime",
        region_name="eu-west-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def _result(text: str, score: float, chunk: str) -> dict[str, Any]:
    return {
        "content": {"text": text, "type": "TEXT"},
        "location": {"type": "S3", "s3Location": {"uri": f"s3://docs/{chunk}.pdf"}},
        "score": score,
        "metadata": {"x-amz-bedrock-kb-chunk-id": chunk, "year": 2024},
    }


def _expected(count: int, search_type: str, **extra: Any) -> dict[str, Any]:
    vector: dict[str, Any] = {"numberOfResults": count, "overrideSearchType": search_type}
    vector.update(extra)
    return {
        "knowledgeBaseId": KB_ID,
        "retrievalQuery": {"text": "leave policy"},
        "retrievalConfiguration": {"vectorSearchConfiguration": vector},
    }


def test_filters_map_to_bedrock_shapes() -> None:
    node = FILTER.validate_python(
        {
            "and": [
                {"field": "year", "op": "gte", "value": 2023},
                {"field": "tags", "op": "contains", "value": "hr"},
                {"or": [{"field": "team", "op": "in", "value": ["a", "b"]}]},
                {"field": "lang", "op": "not_in", "value": ["fr"]},
                {"field": "path", "op": "starts_with", "value": "hr/"},
                {"field": "level", "op": "contains", "value": 3},
            ]
        }
    )
    assert to_bedrock(node) == {
        "andAll": [
            {"greaterThanOrEquals": {"key": "year", "value": 2023}},
            {
                "orAll": [
                    {"stringContains": {"key": "tags", "value": "hr"}},
                    {"listContains": {"key": "tags", "value": "hr"}},
                ]
            },
            {"in": {"key": "team", "value": ["a", "b"]}},
            {"notIn": {"key": "lang", "value": ["fr"]}},
            {"startsWith": {"key": "path", "value": "hr/"}},
            {"listContains": {"key": "level", "value": 3}},
        ]
    }
    assert to_bedrock(FILTER.validate_python({"field": "a", "op": "neq", "value": True})) == {
        "notEquals": {"key": "a", "value": True}
    }


async def test_retrieve_pages_filters_and_search_type() -> None:
    client = _client()
    year = FILTER.validate_python({"field": "year", "op": "eq", "value": 2024})
    with Stubber(client) as stub:
        stub.add_response(
            "retrieve",
            {
                "retrievalResults": [_result("A", 0.9, "c1"), _result("B", 0.8, "c2")],
                "nextToken": "t1",
            },
            _expected(3, "SEMANTIC", filter={"equals": {"key": "year", "value": 2024}}),
        )
        stub.add_response(
            "retrieve",
            {"retrievalResults": [_result("C", 0.7, "c3")]},
            {
                **_expected(1, "SEMANTIC", filter={"equals": {"key": "year", "value": 2024}}),
                "nextToken": "t1",
            },
        )
        backend = BedrockSearchBackend(client=client)
        hits = await backend.search(
            KB_ID, SearchQuery(text="leave policy", mode="semantic", top_k=3, filter=year)
        )
        stub.assert_no_pending_responses()
    assert [(h.id, h.text, h.score) for h in hits] == [
        ("c1", "A", 0.9),
        ("c2", "B", 0.8),
        ("c3", "C", 0.7),
    ]
    assert hits[0].payload["location"]["s3Location"]["uri"] == "s3://docs/c1.pdf"
    assert hits[0].metadata["year"] == 2024


async def test_bedrock_is_read_only_and_refuses_lexical_search() -> None:
    backend = BedrockSearchBackend(client=_client())
    with pytest.raises(UnsupportedFeatureError):
        await backend.upsert(KB_ID, [])
    with pytest.raises(UnsupportedFeatureError):
        await backend.search(KB_ID, SearchQuery(text="x", mode="lexical"))


async def test_bedrock_errors_become_platform_errors() -> None:
    client = _client()
    with Stubber(client) as stub:
        stub.add_client_error("retrieve", "ValidationException", "bad filter", http_status_code=400)
        with pytest.raises(UpstreamRequestError, match="bad filter"):
            await BedrockSearchBackend(client=client).search(KB_ID, SearchQuery(text="x"))


@pytest.fixture
def bedrock_platform(tmp_path: Path, admin_key: str) -> Iterator[tuple[str, Stubber]]:
    app = create_app(retrieval_settings(tmp_path / "data", admin_key), SERVICES)
    client = _client()
    with serve_in_thread(app) as url, Stubber(client) as stub:
        app.state.platform.retrieval.backends.use("bedrock", BedrockSearchBackend(client=client))
        yield url, stub


def test_a_bedrock_knowledge_base_over_http(
    bedrock_platform: tuple[str, Stubber], admin_key: str
) -> None:
    url, stub = bedrock_platform
    headers = {"Authorization": f"Bearer {admin_key}"}
    with httpx.Client(base_url=url + "/retrieval/v1/", headers=headers) as http:
        created = http.post(
            "knowledge-bases",
            json={"name": "hr", "backend": "bedrock", "bedrock_knowledge_base_id": KB_ID},
        )
        assert created.status_code == 201, created.text
        assert created.json()["embedding_model"] == "bedrock-managed"
        stub.add_response(
            "retrieve",
            {"retrievalResults": [_result("Leave is 25 days.", 0.61, "c9")]},
            _expected(5, "HYBRID", filter={"greaterThan": {"key": "year", "value": 2020}}),
        )
        found = http.post(
            "knowledge-bases/hr/retrieve",
            json={
                "query": "leave policy",
                "top_k": 5,
                "filter": {"field": "year", "op": "gt", "value": 2020},
            },
        )
        assert found.status_code == 200, found.text
        chunk = found.json()["data"][0]
        assert (chunk["id"], chunk["text"], chunk["score"]) == ("c9", "Leave is 25 days.", 0.61)
        assert chunk["location"]["s3Location"]["uri"] == "s3://docs/c9.pdf"
        refused = http.post("knowledge-bases/hr/documents", json={"documents": [{"text": "x"}]})
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "read_only_backend"
