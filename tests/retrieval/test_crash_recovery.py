"""A real retrieval process killed with SIGKILL in the middle of an ingestion job: after the
restart no search returns a chunk whose document row is not committed, every document of the
job is either fetchable and deletable or absent, the leftovers are removed, and the job is
resumed (or fails with the reason)."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from retrieval_process import Tables, retrieval_process, wait_for_job

from agentic_platform.search.backends.pgvector import table_name
from agentic_platform.testing.process import PlatformProcess

pytestmark = pytest.mark.timeout(120)

DOCUMENTS = 200


@pytest.fixture
def pgvector(database_url: str, request: pytest.FixtureRequest) -> str | None:
    """pgvector for the chunks when the platform database is PostgreSQL."""
    if database_url.startswith("postgresql"):
        return str(request.getfixturevalue("pgvector_url"))
    return None


async def _started_job(server: PlatformProcess, http: httpx.AsyncClient) -> tuple[str, str]:
    await server.start()
    kb = (await http.post("/retrieval/v1/knowledge-bases", json={"name": "notes"})).json()
    documents = [
        {"id": f"d{i:03}", "text": f"Note {i}: the quarterly figure is {i * 7}."}
        for i in range(DOCUMENTS)
    ]
    started = await http.post(
        "/retrieval/v1/knowledge-bases/notes/jobs", json={"documents": documents}
    )
    assert started.status_code == 202, started.text
    return kb["id"], started.json()["id"]


@pytest.fixture
async def server(
    tmp_path: Path, database_url: str, admin_key: str, pgvector: str | None
) -> AsyncIterator[PlatformProcess]:
    served = retrieval_process(tmp_path, database_url, admin_key, pgvector)
    try:
        yield served
    finally:
        served.stop()


async def _kill_mid_job(
    server: PlatformProcess, http: httpx.AsyncClient, tables: Tables, job_id: str
) -> None:
    """SIGKILL once part of the job is committed. On PostgreSQL, first hold the document
    table so a write is caught between its chunks and its rows: the crash then certainly
    leaves chunks of documents that have no row."""
    await wait_for_job(http, "notes", job_id, until=lambda job: job["succeeded"] >= 20)
    if not tables.database_url.startswith("postgresql"):
        server.signal(signal.SIGKILL)
        server.wait()
        return
    dsn = tables.database_url.replace("postgresql+asyncpg://", "postgresql://")
    holder = await asyncpg.connect(dsn)
    try:
        await holder.execute("BEGIN")
        await holder.execute("LOCK TABLE kb_documents IN EXCLUSIVE MODE")
        deadline = time.monotonic() + 20
        while not await tables.orphans() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        server.signal(signal.SIGKILL)
        server.wait()
        assert await tables.orphans(), "no write was caught between its chunks and its rows"
        await holder.execute("ROLLBACK")
    finally:
        await holder.close()


async def _searchable_documents(http: httpx.AsyncClient) -> list[str]:
    response = await http.post(
        "/retrieval/v1/knowledge-bases/notes/retrieve",
        json={"query": "quarterly figure", "search_type": "semantic", "top_k": 1000},
    )
    assert response.status_code == 200, response.text
    chunks = response.json()["data"]
    assert all("#" not in chunk["id"] for chunk in chunks)
    return [chunk["document_id"] for chunk in chunks]


async def _assert_only_committed_documents_are_found(http: httpx.AsyncClient) -> None:
    found = await _searchable_documents(http)
    assert len(found) == len(set(found))  # one chunk a document, never two generations
    for document_id in found:
        fetched = await http.get(f"/retrieval/v1/knowledge-bases/notes/documents/{document_id}")
        assert fetched.status_code == 200, (document_id, fetched.text)


async def _listed(http: httpx.AsyncClient) -> set[str]:
    page = await http.get("/retrieval/v1/knowledge-bases/notes/documents", params={"limit": 1000})
    return {document["id"] for document in page.json()["data"]}


async def test_kill_9_mid_ingestion_resumes_the_job_and_search_sees_only_committed_documents(
    server: PlatformProcess, database_url: str, pgvector: str | None
) -> None:
    async with server.client() as http:
        kb_id, job_id = await _started_job(server, http)
        tables = Tables(database_url, pgvector, kb_id)
        await _kill_mid_job(server, http, tables, job_id)
        interrupted = set(await tables.documents())
        assert 20 <= len(interrupted) < DOCUMENTS

        await server.start()
        await _assert_only_committed_documents_are_found(http)
        job = await wait_for_job(http, "notes", job_id)
        assert (job["status"], job["succeeded"], job["failed"]) == ("succeeded", DOCUMENTS, 0)
        assert job["attempts"] == 2 and job["errors"] == []

        assert await _listed(http) == {f"d{i:03}" for i in range(DOCUMENTS)}
        kb = (await http.get("/retrieval/v1/knowledge-bases/notes")).json()
        assert (kb["document_count"], kb["chunk_count"]) == (DOCUMENTS, DOCUMENTS)
        assert sorted(await _searchable_documents(http)) == sorted(await _listed(http))
        assert await tables.settled()  # the dead write's chunks are gone, no intent is left
        assert len(await tables.chunk_ids()) == DOCUMENTS

        deleted = await http.delete("/retrieval/v1/knowledge-bases/notes/documents/d000")
        assert deleted.status_code == 200
        assert "d000" not in await _searchable_documents(http)
        assert (
            await http.get("/retrieval/v1/knowledge-bases/notes/documents/d000")
        ).status_code == 404
        assert await tables.settled()
        assert len(await tables.chunk_ids()) == DOCUMENTS - 1


async def test_a_job_out_of_attempts_fails_with_the_reason_and_leaves_whole_documents(
    tmp_path: Path, admin_key: str
) -> None:
    # The attempts rule is the same on every database; SQLite keeps this one quick.
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'platform.db'}"
    server = retrieval_process(
        tmp_path, database_url, admin_key, None, AGENTIC_RETRIEVAL__JOB_MAX_ATTEMPTS="1"
    )
    try:
        await _out_of_attempts(server, Tables(database_url, None, ""))
    finally:
        server.stop()


async def _out_of_attempts(server: PlatformProcess, tables: Tables) -> None:
    async with server.client() as http:
        tables.kb_id, job_id = await _started_job(server, http)
        await _kill_mid_job(server, http, tables, job_id)

        await server.start()
        job = await wait_for_job(http, "notes", job_id)
        assert job["status"] == "failed"
        assert [(e["index"], e["code"]) for e in job["errors"]] == [(-1, "job_interrupted")]
        assert "retrieval.job_max_attempts" in job["errors"][0]["message"]

        await _assert_only_committed_documents_are_found(http)
        listed = await _listed(http)
        assert listed == set(await tables.documents()) and 20 <= len(listed) < DOCUMENTS
        assert await tables.settled()
        for document_id in listed:
            deleted = await http.delete(
                f"/retrieval/v1/knowledge-bases/notes/documents/{document_id}"
            )
            assert deleted.status_code == 200
        assert await _searchable_documents(http) == []
        assert await tables.settled() and await tables.chunk_ids() == []


@pytest.mark.postgres
async def test_a_crash_while_deleting_a_knowledge_base_leaves_it_gone_and_its_chunks_dropped(
    server: PlatformProcess, database_url: str, pgvector: str | None
) -> None:
    if pgvector is None:
        pytest.skip("holds the pgvector table so the crash lands between rows and chunks")
    async with server.client() as http:
        await server.start()
        kb_id = (await http.post("/retrieval/v1/knowledge-bases", json={"name": "notes"})).json()[
            "id"
        ]
        documents = [{"id": f"d{i}", "text": f"Note {i}."} for i in range(10)]
        added = await http.post(
            "/retrieval/v1/knowledge-bases/notes/documents", json={"documents": documents}
        )
        assert added.status_code == 200, added.text
        tables = Tables(database_url, pgvector, kb_id)
        assert len(await tables.chunk_ids()) == 10

        holder = await asyncpg.connect(pgvector)
        try:
            await holder.execute("BEGIN")
            await holder.execute(f'LOCK TABLE "{table_name(kb_id)}" IN ACCESS SHARE MODE')
            deleting = asyncio.ensure_future(http.delete("/retrieval/v1/knowledge-bases/notes"))
            deadline = time.monotonic() + 20
            while await tables.documents() and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            assert await tables.documents() == {}  # the rows went first
            server.signal(signal.SIGKILL)
            server.wait()
            with pytest.raises(httpx.TransportError):
                await deleting
            # End the dead process's sessions, as a lost machine's would end, so its DROP
            # waiting for the lock never runs.
            await holder.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            await holder.execute("ROLLBACK")
        finally:
            await holder.close()
        assert len(await tables.chunk_ids()) == 10  # the drop never ran

        await server.start()
        assert (await http.get("/retrieval/v1/knowledge-bases/notes")).status_code == 404
        assert await tables.settled()  # the start dropped the collection
        assert await tables.chunk_ids() == []
