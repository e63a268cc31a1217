"""Redis counters travel in batches (group commit): one script call carries every operation
started while the previous call was on the wire, each still all-or-nothing and in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from agentic_platform.limits import Charge
from agentic_platform.limits.redis import RedisCounterStore
from agentic_platform.testing.redis_server import RedisServer


@pytest.fixture
async def store(redis_server: RedisServer) -> AsyncIterator[RedisCounterStore]:
    counters = RedisCounterStore.from_url(redis_server.url, socket_timeout=5, pool_timeout=5)
    yield counters
    await counters.aclose()


async def _script_calls(redis_server: RedisServer) -> int:
    client = Redis.from_url(redis_server.url)
    try:
        stats = await client.info("commandstats")
    finally:
        await client.aclose()
    return sum(
        int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("evalsha", "eval")
    )


async def test_concurrent_operations_share_round_trips_and_stay_exact(
    store: RedisCounterStore, redis_server: RedisServer
) -> None:
    before = await _script_calls(redis_server)
    rpm = Charge("rpm:k:1", amount=1, limit=50, ttl_seconds=60)
    tokens = Charge("tpm:k:1", amount=10, limit=10_000, ttl_seconds=60)

    admissions = await asyncio.gather(*(store.acquire([rpm, tokens]) for _ in range(200)))

    assert sum(a.admitted for a in admissions) == 50
    assert sorted(a.values[0] for a in admissions if a.admitted) == [float(n) for n in range(1, 51)]
    assert await store.values(["rpm:k:1", "tpm:k:1"]) == (50.0, 500.0)
    calls = await _script_calls(redis_server) - before
    assert 1 <= calls < 20, f"{calls} script calls for 200 acquires"

    settle = Charge("tpm:k:1", amount=-4, limit=0, ttl_seconds=60)
    await asyncio.gather(*(store.adjust([settle]) for _ in range(50)))
    assert await store.values(["tpm:k:1"]) == (300.0,)


async def test_operations_apply_in_the_order_they_were_started(store: RedisCounterStore) -> None:
    slot = Charge("conc:k", amount=1, limit=1, ttl_seconds=0)
    release = Charge("conc:k", amount=-1, limit=0, ttl_seconds=0)

    first_call = asyncio.ensure_future(store.acquire([slot]))
    await asyncio.sleep(0)  # queued
    released = store.adjust([release])  # queued at once, behind it (adjust starts eagerly)
    first, _, second = await asyncio.gather(first_call, released, store.acquire([slot]))

    assert first.admitted and second.admitted  # the release between them freed the slot
    assert await store.values(["conc:k"]) == (1.0,)


async def test_a_cancelled_acquire_gives_its_units_back(store: RedisCounterStore) -> None:
    charges = [
        Charge("conc:k", amount=1, limit=5, ttl_seconds=0),
        Charge("tpm:k:1", amount=100, limit=1000, ttl_seconds=60),
    ]
    pending = asyncio.create_task(store.acquire(charges))
    await asyncio.sleep(0)  # submitted: the script call is on its way
    pending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pending

    await asyncio.sleep(0.5)  # the acquire lands, then its refund
    assert await store.values(["conc:k", "tpm:k:1"]) == (0.0, 0.0)
    assert (await store.acquire(charges)).values == (1.0, 100.0)
