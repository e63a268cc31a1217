"""Redis, the shared counter store, stopped and restarted under load, once per failure policy
(``limits.on_backend_error``): the requests in flight finish, the ones that arrive during the
outage get exactly what the policy promises, and when Redis is back the same app counts in
it again by itself. Every answer, whatever its status, is one usage row."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator

import httpx
import pytest
from faults_harness import Served, ledger_rows, serving
from redis.asyncio import Redis

from agentic_platform.llm_gateway.catalog import Deployment, ModelEntry
from agentic_platform.settings import Settings
from agentic_platform.testing.redis_server import RedisServer

pytestmark = [pytest.mark.faults, pytest.mark.timeout(60)]

LOAD = 50
SLOTS = 20  # the plan's concurrency limit: a wave of LOAD slow calls fills it
SLOW_SECONDS = 1.0


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    """A private redis-server on a port of its own, free to be stopped and started."""
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _slow_model() -> ModelEntry:
    return ModelEntry(
        alias="slow",
        capabilities={"chat", "streaming"},
        deployments=[
            Deployment(provider="test", model="slow", options={"delay_seconds": SLOW_SECONDS})
        ],
    )


class Load:
    """Sends chat completions with one key and keeps every answer."""

    def __init__(self, served: Served, key: str) -> None:
        self.http = httpx.AsyncClient(
            base_url=f"{served.url}/llm/v1",
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,  # an answer that takes longer is a hung request: the test fails
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=0),
        )
        self.answers: list[httpx.Response] = []
        self._wave_start = 0

    async def one(self, model: str = "echo") -> httpx.Response:
        body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
        answer = await self.http.post("/chat/completions", json=body)
        self.answers.append(answer)
        return answer

    def wave(self, model: str = "slow") -> asyncio.Future[list[httpx.Response]]:
        """LOAD slow calls at once; against the plan, SLOTS of them hold a slot each."""
        self._wave_start = len(self.answers)
        return asyncio.gather(*(self.one(model) for _ in range(LOAD)))

    async def slots_full(self) -> bool:
        """True once the current wave's calls beyond SLOTS have been refused (429)."""
        refused = [a for a in self.answers[self._wave_start :] if a.status_code == 429]
        return len(refused) == LOAD - SLOTS


async def _counted(redis: RedisServer, kind: str) -> float:
    """The sum of the platform's ``kind`` counters (rpm, conc) now held in Redis."""
    async with Redis.from_url(redis.url) as client:
        keys = [key async for key in client.scan_iter(f"agentic:limits:{kind}:*")]
        values = await client.mget(keys) if keys else []
    return sum(float(value) for value in values if value is not None)


async def _until(condition: Callable[[], Awaitable[bool]], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not await condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


def _statuses(answers: list[httpx.Response]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for answer in answers:
        counts[answer.status_code] = counts.get(answer.status_code, 0) + 1
    return counts


def _admin(served: Served) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"{served.url}/admin/v1", headers={"Authorization": f"Bearer {served.key}"}
    )


async def _limited_key(served: Served) -> str:
    plan = {"name": "limited", "max_concurrent_requests": SLOTS, "requests_per_minute": 100_000}
    async with _admin(served) as admin:
        made = (await admin.post("/plans", json=plan)).json()
        principal = (await admin.post("/principals", json={"name": "load"})).json()
        key = {"principal_id": principal["id"], "plan_id": made["id"]}
        secret: str = (await admin.post("/keys", json=key)).json()["secret"]
    return secret


def _assert_during_outage(policy: str, answers: list[httpx.Response]) -> None:
    if policy == "fail_closed":
        assert _statuses(answers) == {503: LOAD}
        for answer in answers:
            error = answer.json()["error"]
            assert error["code"] == "limiter_unavailable"
            assert error["type"] == "server_error"
            assert "usage limits cannot be checked" in error["message"].lower()
            assert answer.headers["retry-after"] == "1"
    elif policy == "fail_open":
        assert _statuses(answers) == {200: LOAD}  # uncounted: the limit of SLOTS does not hold
    else:
        assert _statuses(answers) == {200: SLOTS, 429: LOAD - SLOTS}  # this replica's counters


@pytest.mark.parametrize("policy", ["fail_closed", "fail_open", "local"])
async def test_redis_stopped_and_restarted_under_load(
    settings: Settings, redis: RedisServer, policy: str, admin_key: str
) -> None:
    settings.models = [*settings.models, _slow_model()]
    settings.limits.url = redis.url
    settings.limits.on_backend_error = policy  # type: ignore[assignment]
    with serving(settings, admin_key) as served:
        load = Load(served, await _limited_key(served))
        async with load.http:
            before = load.wave()
            await _until(load.slots_full)
            assert await _counted(redis, "conc") == SLOTS  # Redis holds the slots in flight

            redis.stop()  # mid-load: SLOTS calls are still waiting on the model
            assert _statuses(await before) == {200: SLOTS, 429: LOAD - SLOTS}
            # Sent once those are settled: under `local` a slot taken in Redis and given back
            # during the outage frees a local slot (see docs/security.md, known gaps).
            _assert_during_outage(policy, await load.wave())

            redis.start()  # same port, empty, as after a crash
            await _until(lambda: _recovered(load, redis))
            after = load.wave()
            await _until(load.slots_full)
            assert await _counted(redis, "conc") == SLOTS  # counted in Redis again
            assert _statuses(await after) == {200: SLOTS, 429: LOAD - SLOTS}
            assert await _counted(redis, "conc") == 0  # every slot given back to Redis
            # The wave's admitted calls and the one call that found Redis back.
            assert await _counted(redis, "rpm") == SLOTS + 1
    rows = ledger_rows(served.database)
    assert sorted(r["request_id"] for r in rows) == sorted(
        a.headers["x-request-id"] for a in load.answers
    )
    assert [r["status"] for r in rows].count(200) == sum(a.status_code == 200 for a in load.answers)


async def _recovered(load: Load, redis: RedisServer) -> bool:
    """One call at a time (the store probes Redis with one call about every second) until
    one is admitted and counted in Redis."""
    answer = await load.one()
    return answer.status_code == 200 and await _counted(redis, "rpm") > 0
