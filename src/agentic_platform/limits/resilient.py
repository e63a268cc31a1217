"""What the gateway does while the shared counter store (Redis) is down.

Every choice gives something up; the operator picks one with the limits failure policy:

``fail_closed`` (default)
    ``acquire()`` raises :class:`LimiterUnavailableError` (503): no request is served that
    could not be counted, so no plan and no dollar budget is ever exceeded. The price is
    availability: a Redis outage stops all metered traffic. Pick it when budgets are hard
    commitments (cost caps, contractual quotas).
``fail_open``
    ``acquire()`` admits everything, uncounted, reporting each counter's value as though it
    had been empty, and a warning is logged every few seconds.
    Traffic keeps flowing, but during the outage no limit holds at all: a runaway client can
    spend any amount. Pick it when limits are a courtesy and availability comes first.
``local``
    Each replica falls back to its own in-process counters, started empty when the outage
    begins. Limits still hold per replica, so the cluster admits up to N times a plan with N
    replicas, and usage during the outage never reaches the shared counters. A middle road:
    abuse stays bounded without stopping traffic.

Common to all three:

* The primary store is tried again at most every ``probe_interval`` (about 1 s), by one
  request at a time; the rest apply the policy at once instead of each waiting for a socket
  timeout. The first answer from the primary ends the outage, as does a successful
  :meth:`ResilientCounterStore.ping`.
* ``adjust()`` never fails a request that has already been served: under ``fail_closed`` and
  ``fail_open`` the adjustment is dropped (logged), under ``local`` it goes to the local
  counters. Reservations made before the outage therefore stay charged in the shared
  counters (over-counting, the safe side) and a concurrency slot taken before the outage and
  released during it stays taken until its counter is cleared. A slot taken in a local
  counter and released after the outage ends is subtracted from the shared counter, which
  can under-count by the number of requests that straddled the switch; the clamp at 0 stops
  that from accumulating.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Literal, TypeVar, get_args

from agentic_platform.errors import ServiceUnavailableError
from agentic_platform.limits.base import (
    Admission,
    Charge,
    CounterStore,
    CounterStoreUnavailable,
    check_charges,
    completed,
)
from agentic_platform.limits.memory import MemoryCounterStore

logger = logging.getLogger("agentic_platform.limits")

FailurePolicy = Literal["fail_closed", "fail_open", "local"]
FAILURE_POLICIES: tuple[FailurePolicy, ...] = get_args(FailurePolicy)

T = TypeVar("T")


class LimiterUnavailableError(ServiceUnavailableError):
    """The counter store is down and the policy is ``fail_closed``."""

    default_code = "limiter_unavailable"

    def __init__(
        self,
        message: str = (
            "Usage limits cannot be checked right now, so requests are refused. Try again shortly."
        ),
    ) -> None:
        super().__init__(message, headers={"Retry-After": "1"})


class ResilientCounterStore:
    """Wraps the shared store and applies a :data:`FailurePolicy` while it is unavailable."""

    def __init__(
        self,
        primary: CounterStore,
        policy: FailurePolicy = "fail_closed",
        *,
        probe_interval: float = 1.0,
        warn_interval: float = 5.0,
    ) -> None:
        if policy not in FAILURE_POLICIES:
            raise ValueError(f"Unknown failure policy {policy!r}; use one of {FAILURE_POLICIES}.")
        self._primary = primary
        self._policy = policy
        self._probe_interval = probe_interval
        self._warn_interval = warn_interval
        self._down = False
        self._probing = False
        self._next_probe = 0.0
        self._last_warning = float("-inf")
        self._local = MemoryCounterStore()

    @property
    def policy(self) -> FailurePolicy:
        return self._policy

    @property
    def in_outage(self) -> bool:
        """True while the primary store is considered down (for health reporting)."""
        return self._down

    async def acquire(self, charges: Sequence[Charge]) -> Admission:
        try:
            return await self._on_primary(lambda: self._primary.acquire(charges))
        except CounterStoreUnavailable as error:
            check_charges(charges, acquiring=True)
            self._remind()
            if self._policy == "local":
                return replace(await self._local.acquire(charges), local=True)
            if self._policy == "fail_open":
                # Reported as though every counter were empty: the real values are unknown.
                amounts = tuple(max(charge.amount, 0.0) for charge in charges)
                return Admission(True, amounts, None, None)
            raise LimiterUnavailableError() from error

    def adjust(self, charges: Sequence[Charge]) -> Awaitable[None]:
        if any(charge.local for charge in charges):
            self._local.adjust([charge for charge in charges if charge.local])
            charges = [charge for charge in charges if not charge.local]
            if not charges:
                return completed()
        if self._down:
            return self._adjust_in_outage(charges)
        started = asyncio.ensure_future(self._primary.adjust(charges))  # started eagerly
        landed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def on_primary(done: asyncio.Future[None]) -> None:
            # Callbacks, not a task per settlement: this runs for every metered request.
            error = None if done.cancelled() else done.exception()
            if isinstance(error, CounterStoreUnavailable):
                self._mark_down(error)
                elsewhere = asyncio.ensure_future(self._adjust_elsewhere(charges))
                elsewhere.add_done_callback(lambda result: _copy(result, landed))
            else:
                _copy(done, landed)

        started.add_done_callback(on_primary)
        return landed

    async def _adjust_in_outage(self, charges: Sequence[Charge]) -> None:
        try:
            await self._on_primary(lambda: self._primary.adjust(charges))
        except CounterStoreUnavailable:
            await self._adjust_elsewhere(charges)

    async def _adjust_elsewhere(self, charges: Sequence[Charge]) -> None:
        check_charges(charges, acquiring=False)
        self._remind()
        if self._policy == "local":
            # Settling what the shared store admitted: what it adds is counted here too, but
            # nothing it gives back (a released slot, a refund) frees room others hold here.
            await self._local.adjust([charge for charge in charges if charge.amount > 0])

    async def values(self, counters: Sequence[str]) -> tuple[float, ...]:
        try:
            return await self._on_primary(lambda: self._primary.values(counters))
        except CounterStoreUnavailable as error:
            if self._policy == "local":
                return await self._local.values(counters)
            if self._policy == "fail_open":
                return tuple(0.0 for _ in counters)
            raise LimiterUnavailableError() from error

    async def ping(self) -> None:
        """Ping the primary now, whatever the probe schedule; success ends an outage.

        Raises :class:`CounterStoreUnavailable` while the primary is down, under every
        policy: whether that makes the replica unready (``fail_closed``) or merely degraded
        (``fail_open``, ``local``) is the health check's decision.
        """
        try:
            await self._primary.ping()
        except CounterStoreUnavailable as error:
            self._mark_down(error)
            raise
        self._mark_up()

    async def aclose(self) -> None:
        await self._primary.aclose()
        await self._local.aclose()

    async def _on_primary(self, call: Callable[[], Awaitable[T]]) -> T:
        """Run ``call`` on the primary, unless it is down and not due for a probe, in which
        case raise :class:`CounterStoreUnavailable` without waiting on it."""
        if self._down and (self._probing or time.monotonic() < self._next_probe):
            raise CounterStoreUnavailable("The counter store is down; not yet due for a probe.")
        probe = self._down
        if probe:
            self._probing = True
        try:
            result = await call()
        except CounterStoreUnavailable as error:
            self._mark_down(error)
            raise
        finally:
            if probe:
                self._probing = False
        if probe:  # a call that began before the outage says nothing about its end
            self._mark_up()
        return result

    def _mark_down(self, error: CounterStoreUnavailable) -> None:
        now = time.monotonic()
        self._next_probe = now + self._probe_interval
        if self._down:
            return
        self._down = True
        if self._policy == "local":
            self._local = MemoryCounterStore()  # counts left from an earlier outage are stale
        self._last_warning = now
        logger.warning(
            "counter store unavailable; applying the failure policy",
            extra={"policy": self._policy, "error": str(error)},
        )

    def _mark_up(self) -> None:
        if self._down:
            self._down = False
            logger.info("counter store reachable again", extra={"policy": self._policy})

    def _remind(self) -> None:
        """Log that limits are degraded, at most once per ``warn_interval``."""
        now = time.monotonic()
        if now - self._last_warning >= self._warn_interval:
            self._last_warning = now
            logger.warning("counter store still unavailable", extra={"policy": self._policy})


def _copy(source: asyncio.Future[None], target: asyncio.Future[None]) -> None:
    """Settle ``target`` as ``source`` ended."""
    if target.done():
        return
    if source.cancelled():
        target.cancel()
    elif (error := source.exception()) is not None:
        target.set_exception(error)
    else:
        target.set_result(None)
