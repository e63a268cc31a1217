"""Cooldown of a deployment that keeps failing: a circuit breaker per deployment.

A deployment **opens** (is cooled down) after ``consecutive_failures`` failures in a row, or
when at least ``min_calls`` calls in the last ``window_seconds`` failed at
``failure_rate`` or more. While open, the gateway skips it for ``cooldown_seconds`` (unless
every deployment of the alias is open: then they are all tried anyway, in order, rather than
refusing the call). After the cooldown it is **half-open**: one call may try it; a success
closes it, a failure opens it for another cooldown.

Only the deployment's own failures count: 5xx, 429, timeouts, broken connections, rejected
platform credentials and unreadable answers. A request the upstream found invalid (a 4xx
the caller caused) shows the deployment is up, and counts as a success.

The state lives in this process: each replica cools its deployments down on its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel, Field

BUCKETS = 10
"""The failure-rate window is kept as this many buckets of counts."""

Key = tuple[str, int]
"""(alias, deployment index) for a catalog entry; the alias is the model asked for, so each
model served through a wildcard has breakers of its own."""


class CooldownSettings(BaseModel):
    enabled: bool = Field(default=True, description="Cool down deployments that keep failing.")
    consecutive_failures: int = Field(
        default=5, ge=0, description="Failures in a row that open a deployment (0: off)."
    )
    failure_rate: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Share of failed calls in the window that opens a deployment.",
    )
    min_calls: int = Field(
        default=20, ge=1, description="Calls the window needs before its failure rate counts."
    )
    window_seconds: float = Field(
        default=60.0, gt=0, description="How far back the failure rate looks."
    )
    cooldown_seconds: float = Field(
        default=30.0, gt=0, description="How long an open deployment is skipped."
    )


@dataclass(slots=True)
class _State:
    consecutive: int = 0
    open_until: float = 0.0
    """0 while closed; else when the cooldown ends (then one trial call is let through)."""
    trial: bool = False
    last_failure: float = 0.0
    slots: list[int] = field(default_factory=lambda: [-1] * BUCKETS)
    calls: list[int] = field(default_factory=lambda: [0] * BUCKETS)
    failures: list[int] = field(default_factory=lambda: [0] * BUCKETS)


class Breakers:
    """The breakers of every deployment, created on a deployment's failure and forgotten on
    its first success once it has no failure left in the window (so a healthy gateway keeps
    none, and the balancer skips the check)."""

    def __init__(
        self, settings: CooldownSettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self.clock = clock
        self._states: dict[Key, _State] = {}
        self._bucket_seconds = settings.window_seconds / BUCKETS

    @property
    def tracking(self) -> bool:
        """Whether any deployment has failed since it last recovered."""
        return bool(self._states)

    def available(self, key: Key) -> bool:
        """Whether a call may try this deployment now (closed, or half-open and free)."""
        state = self._states.get(key)
        if state is None or not state.open_until:
            return True
        return not state.trial and self.clock() >= state.open_until

    def is_open(self, key: Key) -> bool:
        state = self._states.get(key)
        return state is not None and bool(state.open_until)

    def started(self, key: Key) -> None:
        """A call is trying the deployment: past its cooldown, that call is the trial."""
        state = self._states.get(key)
        if state is not None and state.open_until and self.clock() >= state.open_until:
            state.trial = True

    def abandoned(self, key: Key) -> None:
        """A call ended without an outcome (cancelled): its trial slot is free again."""
        state = self._states.get(key)
        if state is not None:
            state.trial = False

    def succeeded(self, key: Key) -> None:
        state = self._states.get(key)
        if state is None:
            return  # never failed: the common case costs one lookup
        if state.open_until or self.clock() - state.last_failure > self.settings.window_seconds:
            self._states.pop(key)  # recovered, or no failure left in the window: forgotten
            return
        state.consecutive = 0
        self._count(state, failed=False)

    def failed(self, key: Key) -> None:
        settings = self.settings
        if not settings.enabled:
            return
        state = self._states.get(key)
        if state is None:
            state = self._states[key] = _State()
        now = state.last_failure = self.clock()
        if state.open_until:
            state.open_until, state.trial = now + settings.cooldown_seconds, False
            return
        state.consecutive += 1
        calls, failures = self._count(state, failed=True)
        streak = (
            settings.consecutive_failures and state.consecutive >= settings.consecutive_failures
        )
        rate = calls >= settings.min_calls and failures >= settings.failure_rate * calls
        if streak or rate:
            state.open_until = now + settings.cooldown_seconds

    def _count(self, state: _State, *, failed: bool) -> tuple[int, int]:
        """Adds the outcome to the window; returns the window's calls and failures."""
        slot = int(self.clock() // self._bucket_seconds)
        position = slot % BUCKETS
        if state.slots[position] != slot:
            state.slots[position], state.calls[position], state.failures[position] = slot, 0, 0
        state.calls[position] += 1
        state.failures[position] += failed
        oldest = slot - BUCKETS + 1
        calls = failures = 0
        for i in range(BUCKETS):
            if state.slots[i] >= oldest:
                calls += state.calls[i]
                failures += state.failures[i]
        return calls, failures
