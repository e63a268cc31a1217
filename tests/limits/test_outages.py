"""Redis killed, hung and restarted under a live store: each failure policy does what its
documentation promises, and the same store object works again once Redis is back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from agentic_platform.limits import (
    Charge,
    CounterStoreUnavailable,
    FailurePolicy,
    LimiterUnavailableError,
    ResilientCounterStore,
)
from agentic_platform.limits.redis import RedisCounterStore
from agentic_platform.testing.redis_server import RedisServer

SLOT = Charge("concurrent:k1", amount=1, limit=3, ttl_seconds=0)
RELEASE = Charge("concurrent:k1", amount=-1, limit=3, ttl_seconds=0)


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "the store did not recover"
        await asyncio.sleep(0.05)


@pytest.fixture
async def redis_store(redis_server: RedisServer) -> AsyncIterator[RedisCounterStore]:
    store = RedisCounterStore.from_url(redis_server.url)
    yield store
    await store.aclose()


def resilient(
    server: RedisServer, policy: FailurePolicy, **options: float
) -> ResilientCounterStore:
    primary = RedisCounterStore.from_url(server.url)
    return ResilientCounterStore(primary, policy, probe_interval=options.get("probe", 0.1))


async def recovered(store: ResilientCounterStore) -> bool:
    """Any call probes the primary once the probe interval has passed."""
    try:
        await store.values(["probe"])
    except LimiterUnavailableError:
        return False
    return not store.in_outage


async def test_redis_store_reports_unavailable_and_recovers_after_restart(
    redis_server: RedisServer, redis_store: RedisCounterStore
) -> None:
    slots = Charge("concurrent:k1", amount=1, limit=100, ttl_seconds=0)
    await asyncio.gather(*(redis_store.acquire([slots]) for _ in range(8)))  # 8 pooled conns
    redis_server.stop()
    await asyncio.sleep(0.05)  # the event loop sees the connections close, as in real life

    another_replica = RedisCounterStore.from_url(redis_server.url)
    with pytest.raises(CounterStoreUnavailable):
        await another_replica.acquire([slots])
    with pytest.raises(CounterStoreUnavailable):
        await another_replica.ping()
    await another_replica.aclose()

    redis_server.start()  # same port, empty data, empty script cache

    for expected in range(1, 9):  # every stale pooled connection is replaced, none fails
        assert (await redis_store.acquire([slots])).values == (float(expected),)
    await redis_store.ping()


async def test_a_hung_redis_fails_within_the_socket_timeout(
    redis_server: RedisServer, redis_store: RedisCounterStore
) -> None:
    await redis_store.ping()
    redis_server.freeze()
    try:
        started = time.monotonic()
        with pytest.raises(CounterStoreUnavailable):
            await redis_store.acquire([SLOT])
        assert time.monotonic() - started < 1.5  # 0.25 s timeout, slack for a busy machine
    finally:
        redis_server.thaw()
    await redis_store.ping()


async def test_fail_closed_refuses_with_503_until_redis_is_back(
    redis_server: RedisServer,
) -> None:
    store = resilient(redis_server, "fail_closed")
    assert (await store.acquire([SLOT])).admitted
    redis_server.stop()

    with pytest.raises(LimiterUnavailableError) as refused:
        await store.acquire([SLOT])
    assert refused.value.status_code == 503
    assert refused.value.to_body()["error"]["code"] == "limiter_unavailable"
    assert "cannot be checked" in refused.value.message
    with pytest.raises(LimiterUnavailableError):
        await store.values([SLOT.counter])
    await store.adjust([RELEASE])  # settling a served request never fails it
    with pytest.raises(CounterStoreUnavailable):
        await store.ping()

    redis_server.start()
    await eventually(lambda: recovered(store))
    assert (await store.acquire([SLOT])).admitted
    await store.aclose()


async def test_fail_open_admits_everything_until_redis_is_back(
    redis_server: RedisServer,
) -> None:
    store = resilient(redis_server, "fail_open")
    one_a_minute = Charge("rpm:k1:1", amount=1, limit=1, ttl_seconds=60)
    assert (await store.acquire([one_a_minute])).admitted
    redis_server.stop()

    admissions = [await store.acquire([one_a_minute]) for _ in range(5)]

    assert all(admission.admitted for admission in admissions)
    assert await store.values([one_a_minute.counter]) == (0.0,)

    redis_server.start()
    await eventually(lambda: recovered(store))
    assert (await store.acquire([one_a_minute])).admitted
    assert not (await store.acquire([one_a_minute])).admitted  # enforced again
    await store.aclose()


async def test_local_enforces_limits_in_process_until_redis_is_back(
    redis_server: RedisServer,
) -> None:
    store = resilient(redis_server, "local")
    per_window = Charge("rpm:k1:1", amount=1, limit=3, ttl_seconds=60)
    assert (await store.acquire([per_window])).admitted
    redis_server.stop()

    admissions = [await store.acquire([per_window]) for _ in range(4)]

    assert [a.admitted for a in admissions] == [True, True, True, False]
    assert admissions[-1].retry_after is not None
    assert 59 < admissions[-1].retry_after <= 60
    # A refund of a local admission (the caller marks it so) is applied locally.
    await store.adjust([Charge("rpm:k1:1", amount=-1, limit=3, ttl_seconds=60, local=True)])
    assert await store.values([per_window.counter]) == (2.0,)

    redis_server.start()  # empty: the shared counters know nothing of the outage
    await eventually(lambda: recovered(store))
    assert (await store.acquire([per_window])).values == (1.0,)
    await store.aclose()


async def test_during_an_outage_requests_do_not_wait_on_the_primary(
    redis_server: RedisServer,
) -> None:
    store = resilient(redis_server, "fail_open", probe=60)
    await store.ping()
    redis_server.freeze()
    try:
        await store.acquire([SLOT])  # waits out the socket timeout once
        started = time.monotonic()
        for _ in range(50):
            assert (await store.acquire([SLOT])).admitted
        assert time.monotonic() - started < 0.2
        assert store.in_outage
    finally:
        redis_server.thaw()

    await store.ping()  # a readiness probe ends the outage without waiting for the schedule
    assert not store.in_outage
    await store.aclose()


async def test_local_releases_of_slots_taken_in_redis_free_no_local_slot(
    redis_server: RedisServer,
) -> None:
    """Requests admitted by Redis that end during the outage give nothing back to the local
    counters (they never held those slots); slots taken locally are given back locally."""
    store = resilient(redis_server, "local")
    slot = Charge("concurrent:k2", amount=1, limit=2, ttl_seconds=60, lease=True)
    in_redis = [await store.acquire([slot]) for _ in range(2)]
    assert [a.admitted and not a.local for a in in_redis] == [True, True]
    redis_server.stop()
    held_here = [await store.acquire([slot]) for _ in range(2)]
    assert [a.admitted and a.local for a in held_here] == [True, True]

    for _ in in_redis:  # the requests Redis admitted end now
        await store.adjust([Charge(slot.counter, -1, 2, 60)])
    assert not (await store.acquire([slot])).admitted, "a Redis release freed a local slot"

    await store.adjust([Charge(slot.counter, -1, 2, 60, local=True)])
    assert (await store.acquire([slot])).admitted
    await store.aclose()
