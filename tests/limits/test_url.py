"""Choosing the store from ``AGENTIC_LIMITS__URL``."""

from __future__ import annotations

import pytest

from agentic_platform.errors import ConfigurationError
from agentic_platform.limits import (
    Charge,
    MemoryCounterStore,
    ResilientCounterStore,
    counter_store_from_url,
)
from agentic_platform.testing.redis_server import RedisServer


async def test_memory_url_gives_an_in_process_store() -> None:
    store = counter_store_from_url("memory://")

    assert isinstance(store, MemoryCounterStore)
    assert (await store.acquire([Charge("rpm:k:1", 1, 1, 60)])).admitted


async def test_redis_url_gives_a_shared_store_with_the_failure_policy(
    redis_server: RedisServer,
) -> None:
    store = counter_store_from_url(redis_server.url, policy="local")
    other_replica = counter_store_from_url(redis_server.url)

    assert isinstance(store, ResilientCounterStore)
    assert store.policy == "local"
    await store.ping()
    assert (await store.acquire([Charge("rpm:k:1", 1, 1, 60)])).admitted
    assert not (await other_replica.acquire([Charge("rpm:k:1", 1, 1, 60)])).admitted
    await store.aclose()
    await other_replica.aclose()


def test_tls_redis_url_is_accepted_without_connecting() -> None:
    assert isinstance(
        counter_store_from_url("rediss://cache.internal:6380/2"), ResilientCounterStore
    )


@pytest.mark.parametrize("url", ["postgresql://db/limits", "127.0.0.1:6379", ""])
def test_unsupported_url_names_the_setting_and_the_schemes(url: str) -> None:
    with pytest.raises(ConfigurationError) as error:
        counter_store_from_url(url)

    assert "AGENTIC_LIMITS__URL" in error.value.message
    assert "memory://" in error.value.message
    assert "redis://" in error.value.message


def test_a_malformed_redis_url_does_not_echo_its_password() -> None:
    with pytest.raises(ConfigurationError) as error:
        counter_store_from_url("redis://user:s3cret@cache:notaport/0")

    assert "AGENTIC_LIMITS__URL" in error.value.message
    assert "s3cret" not in error.value.message
