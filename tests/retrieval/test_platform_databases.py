"""The same knowledge-base life cycle on SQLite (embedded index) and on PostgreSQL (the
platform database) with pgvector (a private embedded server) for the chunks."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from retrieval_harness import SERVICES, retrieval_settings

from agentic_platform.app import create_app
from agentic_platform.testing.server import serve_in_thread


def test_knowledge_base_life_cycle(
    database_url: str, tmp_path: Path, admin_key: str, request: pytest.FixtureRequest
) -> None:
    on_postgres = database_url.startswith("postgresql")
    pgvector_url = request.getfixturevalue("pgvector_url") if on_postgres else None
    settings = retrieval_settings(
        tmp_path / "data", admin_key, database_url=database_url, pgvector_url=pgvector_url
    )
    headers = {"Authorization": f"Bearer {admin_key}"}
    with (
        serve_in_thread(create_app(settings, SERVICES)) as url,
        httpx.Client(base_url=url + "/retrieval/v1/", headers=headers, timeout=30) as http,
    ):
        kb = http.post("knowledge-bases", json={"name": "notes"}).json()
        assert kb["backend"] == ("pgvector" if on_postgres else "sqlite")
        documents = [
            {"id": f"n{i}", "text": f"Note {i}: the {word} is ready.", "metadata": {"n": i}}
            for i, word in enumerate(["report", "budget", "design", "report draft"])
        ]
        ingested = http.post("knowledge-bases/notes/documents", json={"documents": documents})
        assert [d["status"] for d in ingested.json()["data"]] == ["created"] * 4
        job = http.post(
            "knowledge-bases/notes/jobs",
            json={"documents": [{"id": "late", "text": "A late report."}]},
        ).json()
        deadline = time.monotonic() + 20
        while (
            job["status"] not in ("succeeded", "partial", "failed") and time.monotonic() < deadline
        ):
            time.sleep(0.05)
            job = http.get(f"knowledge-bases/notes/jobs/{job['id']}").json()
        assert job["status"] == "succeeded"

        def search(**body: object) -> list[str]:
            response = http.post("knowledge-bases/notes/retrieve", json={"top_k": 10, **body})
            assert response.status_code == 200, response.text
            return [chunk["document_id"] for chunk in response.json()["data"]]

        assert set(search(query="report", search_type="lexical")) == {"n0", "n3", "late"}
        assert search(query="report", filter={"field": "n", "op": "gte", "value": 2})[0] == "n3"
        assert len(search(query="anything", search_type="semantic")) == 5
        assert http.delete("knowledge-bases/notes/documents/n3").status_code == 200
        assert set(search(query="report", search_type="lexical")) == {"n0", "late"}
        assert http.delete("knowledge-bases/notes").status_code == 200
        assert http.get("knowledge-bases/notes").status_code == 404


def test_documents_with_neighbours_on_both_databases(
    database_url: str, tmp_path: Path, admin_key: str, request: pytest.FixtureRequest
) -> None:
    on_postgres = database_url.startswith("postgresql")
    pgvector_url = request.getfixturevalue("pgvector_url") if on_postgres else None
    settings = retrieval_settings(
        tmp_path / "data", admin_key, database_url=database_url, pgvector_url=pgvector_url
    )
    headers = {"Authorization": f"Bearer {admin_key}"}
    chunking = {"chunk_tokens": 16, "overlap_tokens": 0, "markdown_headings": False}
    with (
        serve_in_thread(create_app(settings, SERVICES)) as url,
        httpx.Client(base_url=url + "/retrieval/v1/", headers=headers, timeout=30) as http,
    ):
        http.post("knowledge-bases", json={"name": "long", "chunking": chunking})
        text = " ".join(f"Sentence {i} of a long report about budgets." for i in range(20))
        documents = [{"id": f"d{i}", "text": text, "title": f"Report {i}"} for i in range(4)]
        response = http.post("knowledge-bases/long/documents", json={"documents": documents})
        assert response.status_code == 200, response.text
        body = {"query": "report budgets", "top_k": 3, "group_by": "document", "neighbours": 1}
        found = http.post("knowledge-bases/long/retrieve", json=body).json()
        assert len({document["id"] for document in found["documents"]}) == 3
        for document in found["documents"]:
            position = document["passages"][0]["position"]
            around = [n["position"] for n in document["neighbours"]]
            assert around and set(around) <= {position - 1, position + 1}
            assert all(n["text"] for n in document["neighbours"])
