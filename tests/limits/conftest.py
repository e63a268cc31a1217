"""A private ``redis-server`` per test (never the shared one on 6379), which a test may kill,
freeze and restart on the same port, and a factory giving each test the store under test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from agentic_platform.limits import CounterStore, MemoryCounterStore
from agentic_platform.limits.redis import RedisCounterStore
from agentic_platform.testing.redis_server import RedisServer


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    try:
        server = RedisServer()
    except FileNotFoundError as error:
        pytest.skip(str(error))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["memory", "redis"])
async def new_store(request: pytest.FixtureRequest) -> AsyncIterator[Callable[[], CounterStore]]:
    """``new_store()`` returns a handle on one shared set of counters. With Redis each handle
    has its own connection pool, like a separate replica; in memory there is one store.

    These tests are about exactness, not timeouts, so Redis gets a generous socket timeout:
    on a busy two-core machine a burst of connects can take longer than the production 0.25 s.
    """
    created: list[CounterStore] = []
    if request.param == "memory":
        shared = MemoryCounterStore()
        created.append(shared)

        def factory() -> CounterStore:
            return shared
    else:
        server: RedisServer = request.getfixturevalue("redis_server")

        def factory() -> CounterStore:
            store = RedisCounterStore.from_url(server.url, socket_timeout=5, pool_timeout=5)
            created.append(store)
            return store

    yield factory
    for store in created:
        await store.aclose()
