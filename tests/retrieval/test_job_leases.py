"""Replicas sharing one PostgreSQL: a starting replica leaves a live replica's ingestion job
alone, a job whose lease lapsed is taken over by exactly one replica and finished, and a
write stalled past its lease is refused rather than committed over a sweep."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from retrieval_harness import SERVICES, retrieval_settings
from retrieval_process import Tables, slow_embedder, wait_for_job
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from agentic_platform.app import create_app
from agentic_platform.retrieval.service import RetrievalService
from agentic_platform.search.backends.pgvector import table_name
from agentic_platform.testing.catalog import scripted_models

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]

DOCUMENTS = 80
API = "/retrieval/v1"


class Replica:
    """One app instance, lifespan running, reached in-process."""

    def __init__(self, app: FastAPI, admin_key: str) -> None:
        self.app = app
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://replica",
            headers={"Authorization": f"Bearer {admin_key}"},
            timeout=30,
        )

    @property
    def retrieval(self) -> RetrievalService:
        service = self.app.state.platform.retrieval
        assert isinstance(service, RetrievalService)
        return service


ReplicaFactory = Callable[[str, float, float], AbstractAsyncContextManager[Replica]]


@pytest.fixture
def replicas(
    tmp_path: Path, database_url: str, admin_key: str, request: pytest.FixtureRequest
) -> ReplicaFactory:
    """Starts app instances on the test's PostgreSQL database (and one pgvector), each with
    a lease and an embedding delay of its own (the first is slow, so its job is still running
    when the others start; the others finish what it leaves at once)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("replicas share a PostgreSQL database")
    pgvector_url = request.getfixturevalue("pgvector_url")

    @asynccontextmanager
    async def replica(name: str, lease_seconds: float, delay: float) -> AsyncIterator[Replica]:
        settings = retrieval_settings(
            tmp_path / name,
            admin_key,
            database_url=database_url,
            models=[*scripted_models(), slow_embedder(delay)],
            pgvector_url=pgvector_url,
            default_embedding_model="slow-embed",
            embedding_batch_size=1,
            job_lease_seconds=lease_seconds,
        )
        app = create_app(settings, SERVICES)
        async with app.router.lifespan_context(app):
            started = Replica(app, admin_key)
            try:
                yield started
            finally:
                await started.http.aclose()

    return replica


async def _owner(database_url: str, job_id: str) -> tuple[str, int]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    text("SELECT owner, attempts FROM kb_ingest_jobs WHERE id = :id"),
                    {"id": job_id},
                )
            ).one()
            return str(row[0]), int(row[1])
    finally:
        await engine.dispose()


async def test_a_live_job_stays_put_and_a_lapsed_one_is_taken_over_exactly_once(
    replicas: ReplicaFactory, database_url: str
) -> None:
    async with AsyncExitStack() as others:
        async with replicas("first", 1.0, 0.2) as first:
            await first.http.post(f"{API}/knowledge-bases", json={"name": "notes"})
            documents = [{"id": f"d{i:03}", "text": f"Note number {i}."} for i in range(DOCUMENTS)]
            started = await first.http.post(
                f"{API}/knowledge-bases/notes/jobs", json={"documents": documents}
            )
            job_id = started.json()["id"]
            # Two more replicas start while the first one renews its one-second lease.
            second = await others.enter_async_context(replicas("second", 30.0, 0.0))
            third = await others.enter_async_context(replicas("third", 30.0, 0.0))
            await asyncio.sleep(2.5)
            assert await second.retrieval.jobs.take_over() == 0
            assert await third.retrieval.jobs.take_over() == 0
            owner, attempts = await _owner(database_url, job_id)
            assert (owner, attempts) == (first.retrieval.jobs.leases.replica, 1)
            job = await wait_for_job(second.http, "notes", job_id, until=lambda job: True)
            assert job["status"] == "running" and 0 < job["succeeded"] < DOCUMENTS
        # The first replica stopped cleanly mid-job, ending its lease at once.

        taken = await asyncio.gather(
            second.retrieval.jobs.take_over(), third.retrieval.jobs.take_over()
        )
        assert sorted(taken) == [0, 1]
        winner = second if taken[0] else third
        job = await wait_for_job(third.http, "notes", job_id)
        assert (job["status"], job["succeeded"], job["failed"]) == ("succeeded", DOCUMENTS, 0)
        owner, attempts = await _owner(database_url, job_id)
        assert (owner, attempts) == (winner.retrieval.jobs.leases.replica, 1)
        assert job["attempts"] == 1  # a clean stop hands a job over without counting
        listed = await second.http.get(
            f"{API}/knowledge-bases/notes/documents", params={"limit": 1000}
        )
        assert len(listed.json()["data"]) == DOCUMENTS


async def test_a_write_stalled_past_its_lease_is_refused_and_leaves_nothing_searchable(
    replicas: ReplicaFactory, database_url: str, request: pytest.FixtureRequest
) -> None:
    pgvector_url = request.getfixturevalue("pgvector_url")
    async with replicas("only", 1.0, 0.0) as replica:
        kb = (await replica.http.post(f"{API}/knowledge-bases", json={"name": "notes"})).json()
        first = [{"id": "early", "text": "An early note."}]
        await replica.http.post(f"{API}/knowledge-bases/notes/documents", json={"documents": first})
        tables = Tables(database_url, pgvector_url, kb["id"])

        holder = await asyncpg.connect(pgvector_url)
        try:  # the chunk table takes no writes for a while: the write stalls past its lease
            await holder.execute("BEGIN")
            await holder.execute(f'LOCK TABLE "{table_name(kb["id"])}" IN SHARE MODE')
            late = [{"id": "late", "text": "A late note."}]
            writing = asyncio.ensure_future(
                replica.http.post(
                    f"{API}/knowledge-bases/notes/documents", json={"documents": late}
                )
            )
            await asyncio.sleep(2.5)
            await holder.execute("ROLLBACK")
        finally:
            await holder.close()
        refused = await writing
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["code"] == "write_expired"
        assert "retrieval.job_lease_seconds" in refused.json()["error"]["message"]
        document = await replica.http.get(f"{API}/knowledge-bases/notes/documents/late")
        assert document.status_code == 404
        found = await replica.http.post(
            f"{API}/knowledge-bases/notes/retrieve",
            json={"query": "note", "search_type": "lexical", "top_k": 10},
        )
        assert [chunk["document_id"] for chunk in found.json()["data"]] == ["early"]
        assert await tables.settled()  # the stalled write's chunks are removed after all
        assert len(await tables.chunk_ids()) == 1


async def test_two_replicas_writing_the_same_new_document_at_once_both_succeed(
    replicas: ReplicaFactory,
) -> None:
    """The second insert of a new document id meets the first one's row: it replaces it
    instead of failing."""
    async with replicas("a", 30.0, 0.0) as a, replicas("b", 30.0, 0.0) as b:
        await a.http.post(f"{API}/knowledge-bases", json={"name": "notes"})
        for round_ in range(10):
            batch = {"documents": [{"id": f"same{round_}", "text": f"Round {round_} text."}]}
            answers = await asyncio.gather(
                *(
                    replica.http.post(f"{API}/knowledge-bases/notes/documents", json=batch)
                    for replica in (a, b)
                )
            )
            assert [answer.status_code for answer in answers] == [200, 200], [
                answer.text for answer in answers
            ]
        listed = await a.http.get(f"{API}/knowledge-bases/notes/documents", params={"limit": 100})
        assert sorted(d["id"] for d in listed.json()["data"]) == [f"same{i}" for i in range(10)]
