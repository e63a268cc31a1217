"""Retrieve with ``group_by: "document"`` (distinct documents, passages, neighbours), with a
rerank model (per request and per knowledge base, metered as the caller), and the inputs
users send (a title without a body, no source)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from retrieval_harness import SERVICES, Caller, new_member, retrieval_settings

from agentic_platform.app import create_app
from agentic_platform.retrieval.client import RetrievalClient
from agentic_platform.retrieval.tools import KnowledgeBaseSearchTool
from agentic_platform.testing.catalog import scripted_models, scripted_rerank_model
from agentic_platform.testing.server import serve_in_thread

RERANK = scripted_rerank_model()
SMALL_CHUNKS = {"chunk_tokens": 16, "overlap_tokens": 0, "markdown_headings": False}


def _long_document(topic: str, sentences: int = 12) -> str:
    return " ".join(
        f"Part {i} of the {topic} notes says {topic} matters in step {i}." for i in range(sentences)
    )


@pytest.fixture(scope="module")
def platform_url(tmp_path_factory: pytest.TempPathFactory, admin_key: str) -> Iterator[str]:
    settings = retrieval_settings(
        tmp_path_factory.mktemp("documents") / "data",
        admin_key,
        models=[*scripted_models(), RERANK],
    )
    settings.governance.ledger_flush_seconds = 0.05
    with serve_in_thread(create_app(settings, SERVICES)) as url:
        yield url


@pytest.fixture
def member(platform_url: str, admin_key: str) -> Iterator[Caller]:
    caller = new_member(platform_url, admin_key)
    yield caller
    caller.http.close()


def _kb(caller: Caller, name: str, **extra: Any) -> dict[str, Any]:
    response = caller.http.post(
        "knowledge-bases", json={"name": name, "chunking": SMALL_CHUNKS, **extra}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _ingest(caller: Caller, kb: str, *documents: dict[str, Any]) -> list[dict[str, Any]]:
    response = caller.http.post(f"knowledge-bases/{kb}/documents", json={"documents": documents})
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def _retrieve(caller: Caller, kb: str, query: str, **options: Any) -> dict[str, Any]:
    response = caller.http.post(f"knowledge-bases/{kb}/retrieve", json={"query": query, **options})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def notes(member: Caller) -> str:
    _kb(member, "notes")
    results = _ingest(
        member,
        "notes",
        *(
            {"id": f"doc-{topic}", "text": _long_document(topic), "source": f"/notes/{topic}.md"}
            for topic in ("alpha", "beta", "gamma", "delta", "epsilon")
        ),
    )
    assert all(result["chunk_count"] > 3 for result in results)
    return "notes"


def test_chunks_repeat_documents_and_the_documents_option_does_not(
    member: Caller, notes: str
) -> None:
    query = "alpha beta notes step"
    chunks = _retrieve(member, notes, query, top_k=5, search_type="lexical")["data"]
    assert len({chunk["document_id"] for chunk in chunks}) < 5  # pieces of the same documents

    body = _retrieve(member, notes, query, top_k=5, search_type="lexical", group_by="document")
    documents = body["documents"]
    assert len(documents) == 5
    assert len({document["id"] for document in documents}) == 5
    assert [chunk["document_id"] for chunk in body["data"]] == [d["id"] for d in documents]
    scores = [document["score"] for document in documents]
    assert scores == sorted(scores, reverse=True)
    first = documents[0]
    assert first["source"].startswith("/notes/") and "source" not in first["metadata"]
    assert len(first["passages"]) == 1 and first["neighbours"] == []


def test_passages_and_neighbours_come_from_the_same_document(member: Caller, notes: str) -> None:
    body = _retrieve(member, notes, "gamma", top_k=2, group_by="document", passages=2, neighbours=1)
    for document in body["documents"]:
        passages = document["passages"]
        assert 1 <= len(passages) <= 2
        assert {p["document_id"] for p in passages} == {document["id"]}
        positions = {p["position"] for p in passages}
        around = [n["position"] for n in document["neighbours"]]
        assert around == sorted(around) and not positions & set(around)
        assert all(any(abs(n - p) == 1 for p in positions) for n in around)
        assert around  # every document here has chunks on at least one side
        count = member.http.get(f"knowledge-bases/{notes}/documents/{document['id']}").json()
        assert all(0 <= n < count["chunk_count"] for n in around)


def test_documents_fill_up_even_when_one_document_owns_the_best_chunks(member: Caller) -> None:
    _kb(member, "skewed")
    _ingest(
        member,
        "skewed",
        {"id": "big", "text": _long_document("zeta", 60)},
        *({"id": f"small-{i}", "text": f"A short zeta remark number {i}."} for i in range(12)),
    )
    body = _retrieve(member, "skewed", "zeta notes", top_k=10, group_by="document")
    assert len({document["id"] for document in body["documents"]}) == 10


def test_rerank_reorders_and_is_metered_as_the_caller(member: Caller, platform_url: str) -> None:
    _kb(member, "ranked")
    _ingest(
        member,
        "ranked",
        {"id": "a", "text": "warranty warranty warranty terms apply"},
        {"id": "b", "text": "the warranty lasts two full years from purchase"},
        {"id": "c", "text": "shipping and returns"},
    )
    query = "how many years does the warranty last"
    plain = _retrieve(member, "ranked", query, top_k=3, search_type="lexical")
    assert plain["reranked_by"] is None
    ranked = _retrieve(
        member, "ranked", query, top_k=3, search_type="lexical", rerank="test-rerank"
    )
    assert ranked["reranked_by"] == "test-rerank"
    assert ranked["data"][0]["document_id"] == "b"  # most of the query's words
    scores = [chunk["score"] for chunk in ranked["data"]]
    assert scores == sorted(scores, reverse=True) and 0 <= scores[-1] <= scores[0] <= 1

    usage = httpx.Client(base_url=platform_url, headers=member.http.headers)
    deadline = time.monotonic() + 10
    records: list[dict[str, Any]] = []
    while not records and time.monotonic() < deadline:
        time.sleep(0.1)
        found = usage.get("/admin/v1/usage/records").json()["records"]
        records = [r for r in found if r["model"] == "test-rerank"]
    assert len(records) == 1
    assert records[0]["principal_id"] == member.principal_id and records[0]["acting_via"]
    assert records[0]["endpoint"] == "rerank"


def test_a_knowledge_base_default_reranks_unless_the_request_says_no(member: Caller) -> None:
    created = _kb(member, "defaulted", rerank_model="test-rerank")
    assert created["rerank_model"] == "test-rerank"
    _ingest(member, "defaulted", {"id": "x", "text": "rerank me please"})
    assert _retrieve(member, "defaulted", "rerank")["reranked_by"] == "test-rerank"
    assert _retrieve(member, "defaulted", "rerank", rerank=False)["reranked_by"] is None
    grouped = _retrieve(member, "defaulted", "rerank", group_by="document", rerank=True)
    assert grouped["reranked_by"] == "test-rerank" and grouped["documents"][0]["id"] == "x"


@pytest.mark.parametrize(
    ("options", "status", "code"),
    [
        ({"neighbours": 1}, 400, "invalid_value"),
        ({"group_by": "document", "neighbours": 99}, 400, "invalid_value"),
        ({"group_by": "paragraph"}, 400, "invalid_value"),
        ({"rerank": True}, 400, "no_rerank_model"),
        ({"rerank": "no-such-model"}, 404, "model_not_found"),
        ({"rerank": "test-embed"}, 404, "model_not_found"),
    ],
)
def test_bad_grouping_and_rerank_options_are_4xx_with_a_code(
    member: Caller, notes: str, options: dict[str, Any], status: int, code: str
) -> None:
    response = member.http.post(f"knowledge-bases/{notes}/retrieve", json={"query": "q", **options})
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def test_a_title_without_a_body_is_indexed_and_a_missing_source_is_null(member: Caller) -> None:
    _kb(member, "titles")
    _ingest(member, "titles", {"id": "t1", "title": "Quarterly revenue forecast"})
    document = member.http.get("knowledge-bases/titles/documents/t1").json()
    assert document["source"] is None and document["chunk_count"] == 1
    body = _retrieve(member, "titles", "revenue forecast", group_by="document")
    assert body["documents"][0]["id"] == "t1"
    assert body["documents"][0]["source"] is None
    assert "source" not in body["data"][0]["metadata"]
    refused = member.http.post("knowledge-bases/titles/documents", json={"documents": [{}]})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_value"


def test_search_knowledge_base_returns_distinct_documents_by_default(
    platform_url: str, member: Caller, notes: str
) -> None:
    key = member.http.headers["Authorization"].removeprefix("Bearer ")

    async def run() -> dict[str, Any]:
        async with RetrievalClient(platform_url, key) as client:
            tool = KnowledgeBaseSearchTool(client, [notes], top_k=4, neighbours=1)
            parsed: dict[str, Any] = orjson.loads(await tool("alpha notes step"))
            return parsed

    results = asyncio.run(run())["results"]
    assert len(results) == 4 and len({r["document_id"] for r in results}) == 4
    assert all(r["source"].startswith("/notes/") for r in results)
    assert all("…" in r["text"] for r in results)  # the passage with its neighbours


def test_one_caller_never_searches_another_teams_knowledge_base(
    member: Caller, platform_url: str, admin_key: str, notes: str
) -> None:
    outsider = new_member(platform_url, admin_key)
    response = outsider.http.post(
        f"knowledge-bases/{notes}/retrieve", json={"query": "alpha", "group_by": "document"}
    )
    assert response.status_code == 404
