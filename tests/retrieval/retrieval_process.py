"""The retrieval gateway (with the LLM gateway for its embeddings) in a process of its own,
and what its database and search backend hold, read straight from the tables."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from agentic_platform.llm_gateway.catalog import Deployment, ModelEntry
from agentic_platform.search.backends.pgvector import table_name
from agentic_platform.testing.catalog import scripted_models
from agentic_platform.testing.process import PlatformProcess

EMBED_DELAY_SECONDS = 0.05
FINISHED = ("succeeded", "partial", "failed")


def slow_embedder(delay_seconds: float = EMBED_DELAY_SECONDS) -> ModelEntry:
    """``test-embed`` that takes a while per call, so a job is still running when killed."""
    return ModelEntry(
        alias="slow-embed",
        kind="embedding",
        capabilities={"embeddings"},
        deployments=[
            Deployment(
                provider="test",
                model="embed",
                options={"dimensions": 8, "delay_seconds": delay_seconds},
            )
        ],
    )


def retrieval_process(
    work: Path, database_url: str, admin_key: str, pgvector_url: str | None, **settings: str
) -> PlatformProcess:
    extra = {"AGENTIC_RETRIEVAL__PGVECTOR_URL": pgvector_url} if pgvector_url else {}
    return PlatformProcess(
        work,
        database_url,
        admin_key,
        [*scripted_models(), slow_embedder()],
        command=("up",),
        AGENTIC_SERVICES='["llm-gateway", "retrieval"]',
        AGENTIC_RETRIEVAL__DEFAULT_EMBEDDING_MODEL="slow-embed",
        AGENTIC_RETRIEVAL__EMBEDDING_BATCH_SIZE="4",
        AGENTIC_RETRIEVAL__JOB_LEASE_SECONDS="1",
        **extra,
        **settings,
    )


async def wait_for_job(
    http: httpx.AsyncClient, kb: str, job_id: str, *, until: Any = None, within: float = 30
) -> dict[str, Any]:
    """Poll the job until ``until(job)`` holds (default: it finished)."""
    done = until or (lambda job: job["status"] in FINISHED)
    deadline = time.monotonic() + within
    while True:
        response = await http.get(f"/retrieval/v1/knowledge-bases/{kb}/jobs/{job_id}")
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        if done(job) or time.monotonic() > deadline:
            return job
        await asyncio.sleep(0.02)


class Tables:
    """Reads the document rows, write intents and backend chunks of one knowledge base."""

    def __init__(self, database_url: str, pgvector_url: str | None, kb_id: str) -> None:
        self.database_url = database_url
        self.pgvector_url = pgvector_url
        self.kb_id = kb_id

    async def _query(self, sql: str, **params: object) -> list[Any]:
        engine = create_async_engine(self.database_url)
        try:
            async with engine.connect() as connection:
                return list((await connection.execute(text(sql), params)).all())
        finally:
            await engine.dispose()

    async def documents(self) -> dict[str, str]:
        """Committed document ids and the generation each names."""
        rows = await self._query(
            "SELECT id, generation FROM kb_documents WHERE kb_id = :kb", kb=self.kb_id
        )
        return {row[0]: row[1] for row in rows}

    async def intents(self) -> int:
        return len(await self._query("SELECT id FROM kb_write_intents"))

    async def chunk_ids(self) -> list[str]:
        """Every chunk id in the backend, committed or not."""
        if self.pgvector_url is None:
            rows = await self._query(
                "SELECT id FROM search_records WHERE collection = :kb", kb=self.kb_id
            )
            return [row[0] for row in rows]
        connection = await asyncpg.connect(self.pgvector_url)
        try:
            table = table_name(self.kb_id)
            exists = await connection.fetchval("SELECT to_regclass($1)", table)
            if exists is None:
                return []
            return [row[0] for row in await connection.fetch(f'SELECT id FROM "{table}"')]  # noqa: S608
        finally:
            await connection.close()

    async def orphans(self) -> set[str]:
        """Documents with chunks in the backend but no committed row."""
        committed = await self.documents()
        return {chunk.split(":")[0] for chunk in await self.chunk_ids()} - set(committed)

    async def settled(self, within: float = 10) -> bool:
        """Wait until no intent is left and the backend holds exactly the committed chunks."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            committed = await self.documents()
            chunks = await self.chunk_ids()
            current = all(
                chunk.split(":")[0] in committed
                and chunk.partition("#")[2] == committed[chunk.split(":")[0]]
                for chunk in chunks
            )
            if current and await self.intents() == 0:
                return True
            await asyncio.sleep(0.1)
        return False
