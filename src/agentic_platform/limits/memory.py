"""Counters in this process: exact for one replica, and the ``local`` fallback of many.

Atomicity comes from asyncio itself: every method runs from check to add without an
``await``, so no other task can interleave. The store is therefore exact under any number
of concurrent requests on one event loop, and must not be shared across threads.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass

from agentic_platform.limits.base import (
    Admission,
    Charge,
    check_charges,
    completed,
    fits,
    retry_after,
)


@dataclass(slots=True)
class _Counter:
    value: float
    expires_at: float | None  # time.monotonic() deadline; None = never expires


class MemoryCounterStore:
    """A dict of counters with monotonic-clock expiry.

    Expired counters are pruned lazily through a heap of deadlines, so a long-running
    process that sees millions of distinct windows does not keep their counters.
    """

    def __init__(self) -> None:
        self._counters: dict[str, _Counter] = {}
        self._deadlines: list[tuple[float, int, str, _Counter]] = []
        self._sequence = itertools.count()  # breaks ties in the heap; counters never compare

    async def acquire(self, charges: Sequence[Charge]) -> Admission:
        check_charges(charges, acquiring=True)
        now = self._prune()
        current = tuple(self._value(charge.counter) for charge in charges)
        for index, charge in enumerate(charges):
            if not fits(current[index], charge):
                counter = self._counters.get(charge.counter)
                remaining = None
                if counter is not None and counter.expires_at is not None:
                    remaining = counter.expires_at - now
                return Admission(False, current, index, retry_after(charge, remaining))
        values = tuple(self._add(charge, now) for charge in charges)
        for charge in charges:
            if charge.lease:
                self._renew(charge.counter, now + charge.ttl_seconds)
        return Admission(True, values, None, None)

    def adjust(self, charges: Sequence[Charge]) -> Awaitable[None]:
        check_charges(charges, acquiring=False)
        now = self._prune()
        for charge in charges:
            counter = self._counters.get(charge.counter)
            current = counter.value if counter is not None else 0.0
            if current + charge.amount > 0:
                self._add(charge, now)
            elif counter is not None and counter.expires_at is not None:
                counter.value = 0.0  # keep the window's end: a TTL is never moved
            elif counter is not None:
                del self._counters[charge.counter]
        return completed()

    async def values(self, counters: Sequence[str]) -> tuple[float, ...]:
        self._prune()
        return tuple(self._value(name) for name in counters)

    async def ping(self) -> None:
        """Always reachable."""

    async def aclose(self) -> None:
        self._counters.clear()
        self._deadlines.clear()

    def _value(self, name: str) -> float:
        counter = self._counters.get(name)
        return counter.value if counter is not None else 0.0

    def _add(self, charge: Charge, now: float) -> float:
        counter = self._counters.get(charge.counter)
        if counter is None:
            expires_at = now + charge.ttl_seconds if charge.ttl_seconds > 0 else None
            counter = _Counter(0.0, expires_at)
            self._counters[charge.counter] = counter
            if expires_at is not None:
                entry = (expires_at, next(self._sequence), charge.counter, counter)
                heapq.heappush(self._deadlines, entry)
        counter.value += charge.amount
        return counter.value

    def _renew(self, name: str, expires_at: float) -> None:
        """Move a lease's end; its one heap entry is moved when it comes due."""
        self._counters[name].expires_at = expires_at

    def _prune(self) -> float:
        """Drop every counter past its deadline; returns the time it pruned at."""
        now = time.monotonic()
        while self._deadlines and self._deadlines[0][0] <= now:
            _, _, name, counter = heapq.heappop(self._deadlines)
            if self._counters.get(name) is not counter:
                continue
            if counter.expires_at is not None and counter.expires_at > now:  # a renewed lease
                entry = (counter.expires_at, next(self._sequence), name, counter)
                heapq.heappush(self._deadlines, entry)
            else:
                del self._counters[name]
        return now
