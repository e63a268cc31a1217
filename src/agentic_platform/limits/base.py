"""The counter store under the usage-plan limits: a small, exact, atomic multi-counter.

The policy code decides *which* counters a request touches (requests, tokens, dollars,
concurrent requests; per key, user, service account and team) and encodes the window in
each counter's name. A store only has to answer one question exactly, even when many
requests race on many replicas: "does every one of these counters have room for these
amounts? then add them all, else add nothing".

Semantics shared by every backend:

* A counter that does not exist reads as 0.
* A counter's TTL is set when the counter is created and never extended, so counters are
  fixed windows that end on time however busy they are; a ``lease`` charge instead restarts
  its counter's TTL at each admission. Past its TTL a counter reads as 0.
  ``ttl_seconds == 0`` means the counter never expires (concurrency counters).
* No counter goes below 0: ``adjust()`` clamps at 0. A release that arrives after its counter
  was lost (Redis restarted empty, a window rolled over) must not hand out extra capacity.
* ``current + amount > limit`` refuses, with a tolerance of :data:`TOLERANCE` units so that
  decimal dollar amounts (0.1 + 0.2 vs 0.3) do not refuse a charge that fits on paper.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Protocol

TOLERANCE = 1e-9
"""Units by which a charge may exceed its limit: absorbs binary floating-point error in
decimal amounts (USD) and is far below any unit a plan is written in."""


class CounterStoreUnavailable(Exception):
    """The backend cannot be reached or cannot answer. Internal: the resilient wrapper turns
    it into the configured failure policy; it never reaches an HTTP client as such."""


@dataclass(frozen=True, slots=True)
class Charge:
    """Units to add to one counter, and the capacity it must stay within."""

    counter: str
    """Full counter name with the window encoded by the caller, e.g. ``rpm:key_abc:29600123``."""
    amount: float
    """Units to add (1 request, N tokens, X USD); may be negative in ``adjust()``."""
    limit: float
    """Capacity: ``acquire()`` refuses if ``current + amount > limit``. Unused by ``adjust()``."""
    ttl_seconds: float
    """Lifetime of the counter from its creation (the end of its window); 0 = never expires."""
    lease: bool = False
    """The TTL restarts at every ``acquire()`` that adds to the counter, so the counter ends
    ``ttl_seconds`` after its last admission. For concurrency slots: a slot whose release never
    comes (its replica crashed) is freed once the subject has been idle that long."""
    local: bool = False
    """In ``adjust()``: the charge settles an admission made in this replica's own counters
    while the shared store was down (``Admission.local``), so it is applied there."""


@dataclass(frozen=True, slots=True)
class Admission:
    """The answer to ``acquire()``."""

    admitted: bool
    values: tuple[float, ...]
    """Each counter's value after the call (its current value if refused), in charge order."""
    refused_index: int | None
    """Index of the first charge that did not fit; None when admitted."""
    retry_after: float | None
    """Seconds until the refused counter expires. None when that is no guide: the counter
    never expires (ttl 0) or is a lease (freed by releases, not by time), or the charge
    exceeds its limit on its own."""
    local: bool = False
    """Admitted by this replica's own counters (the shared store was down): its settlement
    must say so (``Charge.local``)."""


class CounterStore(Protocol):
    """Exact, atomic counters shared by every replica that uses the same backend."""

    async def acquire(self, charges: Sequence[Charge]) -> Admission:
        """All or nothing: if every counter has room, add every amount atomically; otherwise
        add nothing. Raises :class:`CounterStoreUnavailable` when the backend is down."""
        ...

    def adjust(self, charges: Sequence[Charge]) -> Awaitable[None]:
        """Add amounts unconditionally, clamping each counter at 0: settle a reservation to
        the real usage, or release a concurrency slot with -1.

        Started eagerly: the adjustment is applied, or queued ahead of every operation started
        after this call returns, before anything is awaited. Await the result to know it
        landed (it raises :class:`CounterStoreUnavailable` if it could not); a caller that
        need not wait, such as a request whose answer is ready, may hand it to a task."""
        ...

    async def values(self, counters: Sequence[str]) -> tuple[float, ...]:
        """Current values, 0 for counters that do not exist or have expired."""
        ...

    async def ping(self) -> None:
        """Raise :class:`CounterStoreUnavailable` when the backend is down (readiness)."""
        ...

    async def aclose(self) -> None:
        """Release connections; the store is not used afterwards."""
        ...


def check_charges(charges: Sequence[Charge], *, acquiring: bool) -> None:
    """Reject charges no backend could honour exactly, before touching any counter.

    A counter named twice in one call would be checked against its old value twice, so the
    pair could overshoot the limit: the caller must merge such charges itself.
    """
    seen: set[str] = set()
    for charge in charges:
        if charge.counter in seen:
            raise ValueError(f"Counter {charge.counter!r} appears twice in one call.")
        seen.add(charge.counter)
        if not math.isfinite(charge.amount) or not math.isfinite(charge.ttl_seconds):
            raise ValueError(f"Counter {charge.counter!r}: amount and TTL must be finite.")
        if charge.ttl_seconds < 0 or (charge.lease and charge.ttl_seconds == 0):
            raise ValueError(
                f"Counter {charge.counter!r}: ttl_seconds must be >= 0 (> 0 for a lease)."
            )
        if acquiring and (charge.amount < 0 or math.isnan(charge.limit)):
            raise ValueError(
                f"Counter {charge.counter!r}: acquire() takes amounts >= 0 and a numeric "
                "limit; give units back with adjust()."
            )


def fits(current: float, charge: Charge) -> bool:
    """Whether ``charge`` has room on a counter currently at ``current``."""
    return current + charge.amount <= charge.limit + TOLERANCE


def retry_after(charge: Charge, remaining_ttl: float | None) -> float | None:
    """The ``Admission.retry_after`` of a refused charge, given its counter's remaining TTL
    (None when the counter has no expiry or does not exist)."""
    if charge.ttl_seconds == 0 or charge.lease or charge.amount > charge.limit + TOLERANCE:
        return None
    if remaining_ttl is None:
        return None
    return max(remaining_ttl, 0.0)


def completed() -> Awaitable[None]:
    """An awaitable that is already done: what an adjustment applied at once returns."""
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    done.set_result(None)
    return done
