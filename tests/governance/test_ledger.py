"""The usage ledger: one row per request, nothing lost on a clean stop or a database outage."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from governance_harness import Platform, clear_of_minute_boundary, running

from agentic_platform.db.engine import create_engine, session_factory
from agentic_platform.db.migrate import upgrade
from agentic_platform.governance.ledger import UsageEntry, UsageLedger
from agentic_platform.settings import Settings
from agentic_platform.testing.postgres import POSTGRES_ADMIN_URL


async def test_every_request_is_recorded_across_a_clean_restart(
    governed_settings: Settings,
) -> None:
    governed_settings.governance.ledger_flush_seconds = 30  # only shutdown flushes
    async with running(governed_settings) as first:
        user_id, key_id, secret = await first.user_with_key("counted")
        results = await asyncio.gather(*(first.chat(secret) for _ in range(25)))
        assert first.state.metering.ledger.pending >= 25
    async with running(governed_settings) as second:
        async with second.client(secret) as http:
            stream = await http.post(
                "/llm/v1/chat/completions",
                json={
                    "model": "echo",
                    "stream": True,
                    "messages": [{"role": "user", "content": "a b"}],
                },
            )
            assert stream.status_code == 200
        results += await asyncio.gather(*(second.chat(secret, model="nope") for _ in range(3)))
        await second.state.metering.ledger.flush()
        records = await second.admin(
            "GET", "/usage/records", params={"principal_id": user_id, "limit": 100}
        )
    rows = records["records"]
    assert len(rows) == 26  # 25 + 1 streamed; unknown models never reach the ledger
    assert all(r["key_id"] == key_id for r in rows)
    assert sum(r["streamed"] for r in rows) == 1
    assert {r["status"] for r in rows} == {200}
    assert all(r["output_tokens"] == 2 and r["input_tokens"] == 2 for r in rows)
    assert len({r["request_id"] for r in rows}) == 26
    assert all(r.status_code == 404 for r in results[25:])


async def test_refused_requests_are_recorded_too(platform: Platform) -> None:
    await clear_of_minute_boundary()
    plan = await platform.admin("POST", "/plans", json={"name": "one", "requests_per_minute": 1})
    user_id, _, secret = await platform.user_with_key("refused", plan_id=plan["id"])
    assert [(await platform.chat(secret)).status_code for _ in range(3)] == [200, 429, 429]
    await platform.state.metering.ledger.flush()
    rows = (await platform.admin("GET", "/usage/records", params={"principal_id": user_id}))[
        "records"
    ]
    assert [r["status"] for r in rows] == [200, 429, 429]
    assert rows[1]["error_type"] == "rate_limit_exceeded"


def _entry(index: int) -> UsageEntry:
    from agentic_platform.db.base import utcnow

    return UsageEntry(
        request_id=f"req-{index}-{uuid.uuid4().hex}",
        time=utcnow(),
        principal_id="usr_x",
        key_id=None,
        team_id="team_x",
        acting_via=None,
        endpoint="chat",
        model="echo",
        deployment="test:echo",
        input_tokens=1,
        output_tokens=1,
        cached_tokens=0,
        cost_usd=0.0,
        latency_ms=1.0,
        status=200,
        error_type=None,
        streamed=False,
    )


@pytest.mark.postgres
async def test_nothing_buffered_is_lost_while_the_database_is_down(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("simulates a PostgreSQL outage")
    await upgrade(database_url)
    name = database_url.rsplit("/", 1)[1]
    engine = create_engine(database_url)
    ledger = UsageLedger(session_factory(engine), flush_seconds=0.05)
    ledger.start()
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        for index in range(10):
            ledger.record(_entry(index))
        await asyncio.sleep(0.3)
        # The database goes away: refuse connections and drop the pooled ones.
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
        )
        for index in range(10, 30):
            ledger.record(_entry(index))
        await asyncio.sleep(0.5)
        assert ledger.pending == 20  # kept, not dropped
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await ledger.aclose()
        assert ledger.pending == 0
        conn = await asyncpg.connect(POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
        try:
            assert await conn.fetchval("SELECT count(*) FROM usage_records") == 30
        finally:
            await conn.close()
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.close()
        await engine.dispose()
