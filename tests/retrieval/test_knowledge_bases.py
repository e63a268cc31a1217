"""Knowledge bases over real HTTP: ownership, ingestion, idempotency, search and filters."""

from __future__ import annotations

import time
from typing import Any

import httpx
from retrieval_harness import Caller, new_member

GUIDE = """# Install guide

Agentic runs on Linux and macOS. Install it with pip and start it with `agentic up`.

## Linux

On Debian, install the system packages first: apt install build-essential.

## Troubleshooting

If the port is taken, pass --port to choose another one.
"""


def _create(caller: Caller, name: str, **extra: Any) -> dict[str, Any]:
    response = caller.http.post("knowledge-bases", json={"name": name, **extra})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _ingest(caller: Caller, kb: str, *documents: dict[str, Any]) -> list[dict[str, Any]]:
    response = caller.http.post(f"knowledge-bases/{kb}/documents", json={"documents": documents})
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def _search(caller: Caller, kb: str, query: str, **options: Any) -> list[dict[str, Any]]:
    response = caller.http.post(f"knowledge-bases/{kb}/retrieve", json={"query": query, **options})
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def test_a_team_sees_only_its_own_knowledge_bases(
    admin: Caller, retrieval_url: str, admin_key: str
) -> None:
    created = _create(admin, "handbook", description="How we work")
    assert created["embedding_model"] == "test-embed"
    assert created["dimensions"] == 8
    assert created["backend"] == "sqlite"
    assert admin.http.post("knowledge-bases", json={"name": "handbook"}).status_code == 409

    outsider = new_member(retrieval_url, admin_key)
    assert outsider.http.get(f"knowledge-bases/{created['id']}").status_code == 404
    assert outsider.http.get("knowledge-bases/handbook").status_code == 404
    assert outsider.http.get("knowledge-bases").json()["data"] == []
    own = _create(outsider, "handbook")
    assert own["team_id"] == outsider.team_id != admin.team_id
    search = outsider.http.post(
        f"knowledge-bases/{created['id']}/retrieve", json={"query": "anything"}
    )
    assert search.status_code == 404
    assert search.json()["error"]["type"] == "invalid_request_error"

    names = {kb["id"] for kb in admin.http.get("knowledge-bases").json()["data"]}
    assert {created["id"], own["id"]} <= names  # admins see every team's
    teammate = new_member(retrieval_url, admin_key, team=admin.team_id)
    assert teammate.http.get("knowledge-bases/handbook").json()["id"] == created["id"]

    deleted = admin.http.delete("knowledge-bases/handbook")
    assert deleted.json() == {
        "id": created["id"],
        "object": "knowledge_base.deleted",
        "deleted": True,
    }
    assert admin.http.get(f"knowledge-bases/{created['id']}").status_code == 404


def test_ingest_then_search_every_way(admin: Caller) -> None:
    _create(admin, "docs")
    results = _ingest(
        admin,
        "docs",
        {
            "id": "install",
            "text": GUIDE,
            "content_type": "text/markdown",
            "source": "guides/install.md",
            "metadata": {"audience": "ops", "year": 2025},
        },
        {"text": "Our cafeteria serves lunch from noon.", "metadata": {"audience": "all"}},
    )
    assert [r["status"] for r in results] == ["created", "created"]
    assert results[0]["chunk_count"] == 3
    assert results[1]["id"].startswith("doc_")

    for search_type in ("hybrid", "semantic", "lexical"):
        assert _search(admin, "docs", "install", search_type=search_type, top_k=10)
    best = _search(admin, "docs", "apt install build-essential on Debian", search_type="lexical")[0]
    assert best["document_id"] == "install"
    assert best["location"]["headings"] == ["Install guide", "Linux"]
    assert GUIDE[best["location"]["start"] : best["location"]["end"]] == best["text"]
    assert best["title"] == "Install guide"
    assert best["position"] == 1
    assert best["metadata"] == {
        "audience": "ops",
        "year": 2025,
        "source": "guides/install.md",
        "content_type": "text/markdown",
    }

    ops_only = {"field": "audience", "op": "eq", "value": "ops"}
    assert {c["document_id"] for c in _search(admin, "docs", "lunch", filter=ops_only)} == {
        "install"
    }
    recent_or_all = {
        "or": [
            {"field": "year", "op": "gte", "value": 2025},
            {"field": "audience", "op": "in", "value": ["all"]},
        ]
    }
    assert len(_search(admin, "docs", "lunch", filter=recent_or_all, top_k=10)) == 4
    under_guides = {"field": "source", "op": "starts_with", "value": "guides/"}
    assert len(_search(admin, "docs", "port", filter=under_guides, top_k=10)) == 3
    assert _search(admin, "docs", "zzzz", search_type="lexical") == []

    kb = admin.http.get("knowledge-bases/docs").json()
    assert (kb["document_count"], kb["chunk_count"]) == (2, 4)
    assert {"audience", "year", "document_id", "source"} <= set(kb["metadata_fields"])


def test_the_same_document_again_replaces_its_chunks(admin: Caller) -> None:
    _create(admin, "versions", chunking={"chunk_tokens": 24, "overlap_tokens": 4})
    long_text = " ".join(f"Paragraph {i} talks about topic{i} at length." for i in range(12))
    first = _ingest(admin, "versions", {"id": "notes", "text": long_text})[0]
    assert first["status"] == "created" and first["chunk_count"] > 3
    again = _ingest(admin, "versions", {"id": "notes", "text": long_text})[0]
    assert again == {**first, "status": "unchanged"}

    replaced = _ingest(
        admin, "versions", {"id": "notes", "text": "Now just one line about topic3."}
    )
    assert replaced[0] == {"id": "notes", "status": "replaced", "chunk_count": 1}
    hits = _search(admin, "versions", "topic7", search_type="lexical", top_k=50)
    assert hits == []
    everything = _search(admin, "versions", "line", top_k=50)
    assert [(c["id"], c["text"]) for c in everything] == [
        ("notes:0", "Now just one line about topic3.")
    ]

    listed = admin.http.get("knowledge-bases/versions/documents").json()
    assert [d["id"] for d in listed["data"]] == ["notes"]
    assert admin.http.delete("knowledge-bases/versions/documents/notes").status_code == 200
    assert admin.http.get("knowledge-bases/versions/documents/notes").status_code == 404
    assert _search(admin, "versions", "line", top_k=50) == []
    kb = admin.http.get("knowledge-bases/versions").json()
    assert (kb["document_count"], kb["chunk_count"]) == (0, 0)


def test_a_batch_job_reports_failed_documents_and_ingests_the_rest(admin: Caller) -> None:
    _create(admin, "bulk")
    documents: list[dict[str, Any]] = [
        {"id": f"d{i}", "text": f"Fact number {i}."} for i in range(40)
    ]
    documents[3] = {"id": "bad-type", "text": "x", "content_type": "application/msword"}
    documents[7] = {"id": "empty", "text": "   \n  "}
    documents[9] = {
        "id": "broken-pdf",
        "content_base64": "JVBERi0xLjQKYnJva2Vu",
        "content_type": "application/pdf",
    }
    started = admin.http.post("knowledge-bases/bulk/jobs", json={"documents": documents})
    assert started.status_code == 202
    job = started.json()
    assert job["status"] in ("queued", "running") and job["total"] == 40
    deadline = time.monotonic() + 30
    while job["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.05)
        job = admin.http.get(f"knowledge-bases/bulk/jobs/{job['id']}").json()
    assert job["status"] == "partial"
    assert (job["succeeded"], job["failed"]) == (37, 3)
    assert [(e["index"], e["document_id"], e["code"]) for e in job["errors"]] == [
        (3, "bad-type", "unsupported_content_type"),
        (7, "empty", "empty_document"),
        (9, "broken-pdf", "unreadable_document"),
    ]
    assert admin.http.get("knowledge-bases/bulk").json()["document_count"] == 37
    assert (
        _search(admin, "bulk", "Fact number 12", search_type="lexical")[0]["document_id"] == "d12"
    )


def test_search_refuses_another_embedding_model_and_spans_knowledge_bases(admin: Caller) -> None:
    first = _create(admin, "first")
    _create(admin, "second")
    _ingest(admin, "first", {"id": "a", "text": "Rust has a borrow checker."})
    _ingest(admin, "second", {"id": "b", "text": "Python has a garbage collector."})
    refused = admin.http.post(
        "knowledge-bases/first/retrieve", json={"query": "rust", "embedding_model": "other-model"}
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "embedding_model_mismatch"
    assert "test-embed" in refused.json()["error"]["message"]

    both = admin.http.post(
        "retrieve",
        json={"query": "garbage collector", "knowledge_bases": ["first", "second"], "top_k": 5},
    )
    assert both.status_code == 200
    found = [(c["knowledge_base_id"], c["document_id"]) for c in both.json()["data"]]
    assert found[0][1] == "b"
    assert (first["id"], "a") in found


def test_embeddings_are_metered_as_the_caller(retrieval_url: str, admin_key: str) -> None:
    member = new_member(retrieval_url, admin_key)
    _create(member, "metered")
    _ingest(member, "metered", {"id": "m", "text": "Usage lands on the member who ingests."})
    _search(member, "metered", "who pays")
    usage = httpx.Client(base_url=retrieval_url, headers=member.http.headers)
    deadline = time.monotonic() + 10
    records: list[dict[str, Any]] = []
    while len(records) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
        records = usage.get("/admin/v1/usage/records").json()["records"]
    assert len(records) == 3  # the model probe at creation, the chunk, the query
    assert {(r["principal_id"], r["model"]) for r in records} == {
        (member.principal_id, "test-embed")
    }
    assert all(r["acting_via"] and "embeddings" in r["endpoint"] for r in records)
