"""PostgreSQL, the platform database and the pgvector index, stopped as a crash would and
started again under load on the LLM gateway, retrieval and memory routes. While it is down a
route that needs it answers a clean 503 in the error envelope (never a 500, never a hung
request), a key already verified keeps working, and when it is back the same app serves again
by itself; no usage row answered during the outage is lost."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from private_postgres import PrivatePostgres
from pydantic import SecretStr

from agentic_platform.app import create_app
from agentic_platform.llm_gateway.catalog import Deployment, ModelEntry
from agentic_platform.settings import Settings
from agentic_platform.testing.catalog import scripted_models
from agentic_platform.testing.server import serve_in_thread

pytestmark = [pytest.mark.faults, pytest.mark.timeout(90)]

SLOW_SECONDS = 1.0
UNAVAILABLE = "the database is unavailable"


@pytest.fixture(scope="module")
def server() -> Iterator[PrivatePostgres]:
    started = PrivatePostgres()
    try:
        yield started
    finally:
        started.start()  # a stopped server cannot be cleaned up
        started.cleanup()


@pytest.fixture
async def database(server: PrivatePostgres) -> str:
    """A new database on the private server, for one test."""
    server.start()  # whatever the test before left
    name = f"platform_{uuid.uuid4().hex[:8]}"
    connection = await asyncpg.connect(server.dsn())
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return name


def _settings(data: Path, admin_key: str, url: str) -> Settings:
    slow = ModelEntry(
        alias="slow",
        capabilities={"chat", "streaming"},
        deployments=[
            Deployment(provider="test", model="slow", options={"delay_seconds": SLOW_SECONDS})
        ],
    )
    return Settings(
        data_dir=data,
        database_url=url,
        models=[*scripted_models(), slow],
        auth={"bootstrap_admin_key": SecretStr(admin_key)},  # type: ignore[arg-type]
        log_requests=False,
        services=["llm-gateway", "retrieval", "memory"],
        governance={"ledger_flush_seconds": 0.1, "change_poll_seconds": 0.2},  # type: ignore[arg-type]
        retrieval={"default_embedding_model": "test-embed", "pgvector_url": url},  # type: ignore[arg-type]
        memory={  # type: ignore[arg-type]
            "embedding_model": "test-embed",
            "extraction_model": None,
            "search_backend": "pgvector",
            "pgvector_url": url,
            "worker_poll_seconds": 0.2,
        },
    )


class Member:
    """A member with two keys: ``known`` is verified before the outage, ``fresh`` is not."""

    def __init__(self, url: str, known: str, fresh: str) -> None:
        # A connection per request: the server may close an idle kept-alive connection just
        # as a request goes out on it, which says nothing about the database.
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
        # An answer that takes longer than the timeout is a hung request: the test fails.
        self.known = httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {known}"}, timeout=10, limits=limits
        )
        self.fresh = httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {fresh}"}, timeout=10, limits=limits
        )
        self.session = ""

    async def chat(self, model: str = "echo", *, fresh: bool = False) -> httpx.Response:
        body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
        return await (self.fresh if fresh else self.known).post(
            "/llm/v1/chat/completions", json=body
        )

    async def retrieve(self) -> httpx.Response:
        return await self.known.post(
            "/retrieval/v1/knowledge-bases/notes/retrieve",
            json={"query": "report", "search_type": "hybrid"},
        )

    async def recall(self) -> httpx.Response:
        return await self.known.post("/memory/v1/memories/search", json={"query": "tea"})

    async def history(self) -> httpx.Response:
        return await self.known.get(f"/memory/v1/sessions/{self.session}/messages")

    async def remember(self) -> httpx.Response:
        return await self.known.post(
            f"/memory/v1/sessions/{self.session}/messages",
            json={"role": "user", "content": "I like green tea."},
        )

    def mixed(self, rounds: int) -> list[Any]:
        """``rounds`` of every database route and a chat with the known key."""
        calls = [self.retrieve, self.recall, self.history, self.remember, self.chat]
        return [call() for _ in range(rounds) for call in calls]

    async def aclose(self) -> None:
        await self.known.aclose()
        await self.fresh.aclose()


async def _member(url: str, admin_key: str) -> Member:
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=30
    ) as admin:
        principal = (await admin.post("/admin/v1/principals", json={"name": "m"})).json()
        known, fresh = [
            (await admin.post("/admin/v1/keys", json={"principal_id": principal["id"]})).json()
            for _ in range(2)
        ]
    member = Member(url, known["secret"], fresh["secret"])
    kb = await member.known.post("/retrieval/v1/knowledge-bases", json={"name": "notes"})
    assert kb.status_code < 300, kb.text
    documents = [{"id": f"d{i}", "text": f"Report {i} is ready."} for i in range(5)]
    ingested = await member.known.post(
        "/retrieval/v1/knowledge-bases/notes/documents", json={"documents": documents}
    )
    assert ingested.status_code < 300, ingested.text
    session = await member.known.post("/memory/v1/sessions", json={"agent_id": "helper"})
    member.session = session.json()["id"]
    return member


def _served(answers: list[httpx.Response]) -> bool:
    return all(200 <= a.status_code < 300 for a in answers)


def _assert_unavailable(answer: httpx.Response) -> None:
    assert answer.status_code == 503, answer.text
    error = answer.json()["error"]
    assert error["type"] == "server_error"
    assert error["code"] == "database_unavailable"
    assert UNAVAILABLE in error["message"].lower()
    assert answer.headers["retry-after"]


async def _until_served(member: Member, within: float = 15.0) -> float:
    """Seconds until every database route answers 200 again."""
    started = time.monotonic()
    while True:
        answers = await asyncio.gather(*member.mixed(1), member.chat(fresh=True))
        if _served(answers):
            return time.monotonic() - started
        assert all(_served([a]) or a.status_code == 503 for a in answers), [a.text for a in answers]
        assert time.monotonic() - started < within, [a.text for a in answers]
        await asyncio.sleep(0.1)


async def _usage_report(url: str, admin_key: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {admin_key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as admin:
        return await admin.get("/admin/v1/usage/records")


async def _usage_request_ids(server: PrivatePostgres, database: str) -> set[str]:
    connection = await asyncpg.connect(server.dsn(database))
    try:
        rows = await connection.fetch("SELECT request_id FROM usage_records")
    finally:
        await connection.close()
    return {row["request_id"] for row in rows}


@pytest.mark.parametrize("shutdown", ["fast", "immediate"], ids=["restart", "crash"])
async def test_postgres_restarted_under_load(
    server: PrivatePostgres, database: str, tmp_path: Path, admin_key: str, shutdown: str
) -> None:
    chats: list[httpx.Response] = []
    with serve_in_thread(
        create_app(_settings(tmp_path / "data", admin_key, server.url(database)))
    ) as url:
        member = await _member(url, admin_key)
        try:
            assert _served(await asyncio.gather(*member.mixed(2)))

            in_flight = asyncio.gather(*(member.chat("slow") for _ in range(20)), *member.mixed(6))
            await asyncio.sleep(SLOW_SECONDS / 2)
            server.stop(shutdown)  # mid-load: chats wait on the model, the rest on the database
            during = await asyncio.gather(
                *member.mixed(10), *(member.chat(fresh=True) for _ in range(5))
            )
            mid = await in_flight
            assert [a.status_code for a in mid[:20]] == [200] * 20
            assert all(_served([a]) or a.status_code == 503 for a in mid[20:]), [
                a.text for a in mid
            ]
            by_route = [during[i:50:5] for i in range(5)]
            for answers in by_route[:4]:  # retrieval, memory search, history, new turn
                for answer in answers:
                    _assert_unavailable(answer)
            assert [a.status_code for a in by_route[4]] == [200] * 10  # the known key: cached
            for answer in during[50:]:  # a key never seen needs the database
                _assert_unavailable(answer)
            _assert_unavailable(await _usage_report(url, admin_key))  # the admin API too

            server.start()
            after = await asyncio.gather(*member.mixed(10))
            assert _served(after)
            chats = [*mid[:20], *mid[24::5], *by_route[4], *after[4::5]]
        finally:
            await member.aclose()
    recorded = await _usage_request_ids(server, database)
    answered = {a.headers["x-request-id"] for a in chats if a.status_code == 200}
    assert len(answered) >= 40
    assert answered <= recorded
