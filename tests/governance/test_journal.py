"""Nothing answered is lost: a real gateway process killed with SIGKILL right after its last
answer, stopped with SIGTERM under load, or cut off from PostgreSQL, still ends with exactly
one usage row per request."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from gateway_process import SLOW_SECONDS, GatewayProcess, count_usage_rows

from agentic_platform.testing.postgres import POSTGRES_ADMIN_URL

pytestmark = pytest.mark.timeout(180)

REQUESTS = 200


@pytest.fixture
def gateway(tmp_path: Path, database_url: str, admin_key: str) -> Iterator[GatewayProcess]:
    # Only a clean stop or a full batch would write before the kill: neither happens here.
    served = GatewayProcess(
        tmp_path, database_url, admin_key, AGENTIC_GOVERNANCE__LEDGER_FLUSH_SECONDS="60"
    )
    try:
        yield served
    finally:
        served.stop()


async def test_kill_9_right_after_the_last_answer_loses_no_usage_row(
    gateway: GatewayProcess, database_url: str
) -> None:
    await gateway.start()
    answers = await gateway.chats(REQUESTS)
    gateway.signal(signal.SIGKILL)
    gateway.wait()
    assert [a.status_code for a in answers] == [200] * REQUESTS
    assert await count_usage_rows(database_url) == 0  # every row was still in memory

    await gateway.start()  # same data directory, same database
    records = await gateway.usage_records()
    assert len(records) == REQUESTS
    assert {r["request_id"] for r in records} == {a.headers["x-request-id"] for a in answers}
    assert sum(r["streamed"] for r in records) == REQUESTS // 4
    assert all(r["status"] == 200 and r["output_tokens"] > 0 for r in records)
    assert len(gateway.journal_files()) == 2  # the dead journal is gone: the new lock + segment

    gateway.signal(signal.SIGTERM)
    assert gateway.wait() == 0
    assert '"message":"stopped"' in gateway.log.read_text()
    assert gateway.journal_files() == []  # a clean stop wrote everything and removed it
    assert await count_usage_rows(database_url) == REQUESTS


async def test_sigterm_under_load_finishes_the_requests_in_flight_and_writes_them(
    gateway: GatewayProcess, database_url: str
) -> None:
    await gateway.start()
    in_flight = asyncio.ensure_future(gateway.chats(50, model="slow"))
    await asyncio.sleep(SLOW_SECONDS / 2)  # all admitted, none answered yet
    gateway.signal(signal.SIGTERM)
    answers = await in_flight
    assert gateway.wait() == 0
    assert [a.status_code for a in answers] == [200] * 50
    assert await count_usage_rows(database_url) == 50
    assert gateway.journal_files() == []


@pytest.mark.postgres
async def test_answers_given_while_postgres_is_down_survive_a_kill_9(
    gateway: GatewayProcess, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("simulates a PostgreSQL outage")
    name = database_url.rsplit("/", 1)[1]
    # Batches of 50: the ledger tries (and fails) to write during the outage, never before.
    gateway.env["AGENTIC_GOVERNANCE__LEDGER_BATCH_SIZE"] = "50"
    await gateway.start()
    assert [a.status_code for a in await gateway.chats(20)] == [200] * 20
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
        )
        answers = await gateway.chats(REQUESTS)  # keys and plans come from the caches
        await asyncio.sleep(0.5)  # the ledger tries, fails, keeps the rows (and the journal)
        gateway.signal(signal.SIGKILL)
        gateway.wait()
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.close()
    # A request that needs the database on its way in (a lookup behind a cache) is refused
    # with a 503 before admission, and has no row; every one that was answered must be billed.
    refused = [a for a in answers if a.status_code != 200]
    assert all(a.status_code == 503 for a in refused), {a.status_code for a in refused}
    assert all(a.json()["error"]["code"] == "database_unavailable" for a in refused)
    answered = {a.headers["x-request-id"] for a in answers if a.status_code == 200}
    assert await count_usage_rows(database_url) == 0

    await gateway.start()
    recorded = {r["request_id"] for r in await gateway.usage_records()}
    assert answered <= recorded
    assert len(recorded) >= 20 + len(answered)


def test_an_unwritable_journal_directory_stops_the_start_naming_the_setting(
    tmp_path: Path, admin_key: str
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    served = GatewayProcess(
        tmp_path,
        f"sqlite+aiosqlite:///{tmp_path / 'platform.db'}",
        admin_key,
        AGENTIC_GOVERNANCE__LEDGER_JOURNAL_DIR=str(blocker / "journal"),
    )
    process = served.launch()
    assert process.wait(60) != 0
    log = served.log.read_text()
    assert "AGENTIC_GOVERNANCE__LEDGER_JOURNAL_DIR" in log
    assert "Traceback" not in log
