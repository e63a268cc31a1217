"""Counters for usage-plan limits, exact under concurrency, in memory or in Redis.

The policy code builds :class:`Charge` lists and asks a :class:`CounterStore` to
``acquire()`` them all or none; :func:`counter_store_from_url` picks the backend from the
``AGENTIC_LIMITS__URL`` setting.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from agentic_platform.errors import ConfigurationError
from agentic_platform.limits.base import Admission, Charge, CounterStore, CounterStoreUnavailable
from agentic_platform.limits.memory import MemoryCounterStore
from agentic_platform.limits.resilient import (
    FAILURE_POLICIES,
    FailurePolicy,
    LimiterUnavailableError,
    ResilientCounterStore,
)

__all__ = [
    "FAILURE_POLICIES",
    "Admission",
    "Charge",
    "CounterStore",
    "CounterStoreUnavailable",
    "FailurePolicy",
    "LimiterUnavailableError",
    "MemoryCounterStore",
    "ResilientCounterStore",
    "counter_store_from_url",
]

_SCHEMES = "memory:// (one replica) or redis://host:port/db, rediss:// (shared by replicas)"


def counter_store_from_url(
    url: str, *, policy: FailurePolicy = "fail_closed", socket_timeout: float = 0.25
) -> CounterStore:
    """The store named by ``url``; no I/O happens here.

    ``memory://`` counts in this process: exact, but each replica has its own limits, and it
    is never unavailable, so ``policy`` does not apply. ``redis://`` and ``rediss://`` share
    the counters between replicas, with ``policy`` deciding what happens while Redis is down
    and ``socket_timeout`` (seconds) bounding how long a request waits on it.
    """
    scheme = urlsplit(url).scheme.lower()
    if policy not in FAILURE_POLICIES:
        raise ConfigurationError(
            f"The limits failure policy {policy!r} is unknown; use one of "
            f"{', '.join(FAILURE_POLICIES)}."
        )
    if scheme == "memory":
        return MemoryCounterStore()
    if scheme in ("redis", "rediss"):
        from agentic_platform.limits.redis import RedisCounterStore

        try:
            primary = RedisCounterStore.from_url(url, socket_timeout=socket_timeout)
        except ValueError:  # the URL is not shown: it may hold a password
            raise ConfigurationError(
                "AGENTIC_LIMITS__URL is not a valid Redis URL; "
                "expected redis://[user:password@]host:port/db."
            ) from None
        return ResilientCounterStore(primary, policy)
    raise ConfigurationError(
        f"AGENTIC_LIMITS__URL has the unsupported scheme {scheme + '://' if scheme else '(none)'}; "
        f"use {_SCHEMES}."
    )
