"""Admits or refuses a model call under the caller's plans, and settles it afterwards.

Every plan in force turns into counters (requests, input and output tokens per minute,
concurrent requests, USD per day and per month). Admission reserves an estimate on all of
them in one atomic step — all or nothing — so limits are exact under any concurrency;
settling replaces the estimate with the real usage. A budget is therefore never exceeded by
more than one request's estimation error.
"""

from __future__ import annotations

import asyncio
import fnmatch
import functools
import logging
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from agentic_platform.auth.principal import Principal
from agentic_platform.errors import PermissionDeniedError, RateLimitError
from agentic_platform.governance.plans import AppliedPlan, PlanDirectory
from agentic_platform.limits.base import Charge, CounterStore

logger = logging.getLogger("agentic_platform.governance")


class BudgetExceededError(RateLimitError):
    error_type = "insufficient_quota"
    default_code = "budget_exceeded"


class ModelNotAllowedError(PermissionDeniedError):
    default_code = "model_not_allowed"


@dataclass(frozen=True, slots=True)
class Estimate:
    input_tokens: int
    output_tokens: int
    cost_usd: float


@dataclass(frozen=True, slots=True)
class _Counter:
    charge: Charge
    kind: str  # rpm | itpm | otpm | conc | usd-day | usd-month
    plan: AppliedPlan
    deadline: float  # monotonic time at which the counter's window ends (0: none)


@dataclass(slots=True)
class Ticket:
    """An admitted call: what was reserved, to be settled exactly once."""

    estimate: Estimate
    counters: list[_Counter] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    settled: bool = False
    local: bool = False
    """Admitted by this replica's own counters while the shared store was down."""


@dataclass(frozen=True, slots=True)
class WindowSpend:
    """What the usage ledger holds for one principal, key, team and model in the windows
    that are still open: the UTC month and day (USD) and the minute (requests, tokens)."""

    principal_id: str
    key_id: str | None
    team_id: str
    model: str
    usd_month: float
    usd_day: float
    requests_minute: int
    input_minute: int
    output_minute: int


def window_starts(now: float) -> tuple[datetime, datetime, datetime]:
    """The UTC month, day and minute that the counters of ``now`` count, as their starts."""
    minute = datetime.fromtimestamp(int(now // 60) * 60, UTC)
    day = minute.replace(hour=0, minute=0)
    return day.replace(day=1), day, minute


def _windows(now: float) -> tuple[int, float, str, float, str, float]:
    """Minute id and seconds left; UTC day and month names and seconds left in each."""
    second = int(now)
    day, day_left, month, month_left = _calendar(second)
    fraction = now - second
    return int(now // 60), 60 - now % 60, day, day_left - fraction, month, month_left - fraction


@functools.lru_cache(maxsize=4)
def _calendar(second: int) -> tuple[str, float, str, float]:
    """The UTC day and month of a whole second and the seconds left in each; computed once
    per second rather than once per request."""
    moment = datetime.fromtimestamp(second, UTC)
    tomorrow = (moment + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    next_month = (moment.replace(day=1) + timedelta(days=32)).replace(
        day=1, hour=0, minute=0, second=0, microsecond=0
    )
    return (
        moment.strftime("%Y-%m-%d"),
        (tomorrow - moment).total_seconds(),
        moment.strftime("%Y-%m"),
        (next_month - moment).total_seconds(),
    )


def _counters(
    applied: AppliedPlan, model: str, estimate: Estimate, now: float, lease: float
) -> list[_Counter]:
    plan = applied.plan
    limits, per_model = plan.limits_for(model)
    scope = f"{applied.subject}:{model}" if per_model else applied.subject
    minute, minute_left, day, day_left, month, month_left = _windows(now)
    clock = time.monotonic()
    wanted: list[tuple[str, str, float, float | int | None, float]] = [
        ("rpm", f"rpm:{scope}:{minute}", 1, limits.requests_per_minute, minute_left),
        ("itpm", f"itpm:{scope}:{minute}", estimate.input_tokens,
         limits.input_tokens_per_minute, minute_left),
        ("otpm", f"otpm:{scope}:{minute}", estimate.output_tokens,
         limits.output_tokens_per_minute, minute_left),
        ("conc", f"conc:{applied.subject}", 1, plan.max_concurrent_requests, 0),
        ("usd-day", f"usd-day:{applied.subject}:{day}", estimate.cost_usd,
         plan.budget_usd_per_day, day_left),
        ("usd-month", f"usd-month:{applied.subject}:{month}", estimate.cost_usd,
         plan.budget_usd_per_month, month_left),
    ]  # fmt: skip
    counters = []
    for kind, name, amount, limit, ttl in wanted:
        if limit is None:
            continue
        if kind == "conc":  # released, not windowed: a lease frees slots never released
            charge = Charge(name, amount, float(limit), lease, lease=True)
        else:
            charge = Charge(name, amount, float(limit), ttl)
        counters.append(_Counter(charge, kind, applied, clock + ttl if ttl else 0))
    return counters


class UsageGovernor:
    def __init__(
        self, plans: PlanDirectory, store: CounterStore, concurrency_lease: float = 900
    ) -> None:
        self.plans = plans
        self._plans = plans
        self._store = store
        self._lease = concurrency_lease
        self._settling: set[asyncio.Future[None]] = set()

    async def admit(self, principal: Principal, model: str, estimate: Estimate) -> Ticket:
        """Reserve ``estimate`` under every plan in force, or raise the error that names the
        limit and when it resets."""
        if principal.key_models is not None and not any(
            fnmatch.fnmatchcase(model, pattern) for pattern in principal.key_models
        ):
            raise ModelNotAllowedError(
                f"This API key may not use the model '{model}'.", param="model"
            )
        applied = await self._plans.applied_to(principal)
        ticket = Ticket(estimate)
        if not applied:
            return ticket
        now = time.time()
        for entry in applied:
            _check_plan(entry, model)
            ticket.counters.extend(_counters(entry, model, estimate, now, self._lease))
        if not ticket.counters:
            return ticket
        admission = await self._store.acquire([c.charge for c in ticket.counters])
        if not admission.admitted:
            assert admission.refused_index is not None
            raise _refusal(ticket.counters[admission.refused_index], admission.retry_after, now)
        ticket.headers = _rate_headers(ticket.counters, admission.values)
        ticket.local = admission.local
        return ticket

    def settle(self, ticket: Ticket, input_tokens: int, output_tokens: int, cost: float) -> None:
        """Replace the reservation with what was really used, and free the concurrency slot.

        The answer does not wait for the counter store: the adjustment starts here (applied,
        or queued ahead of any later admission) and lands in the background. A failure is logged,
        never raised: the answer has already been produced. :meth:`drain` waits for them."""
        if ticket.settled:
            return
        ticket.settled = True
        actual = {
            "itpm": input_tokens - ticket.estimate.input_tokens,
            "otpm": output_tokens - ticket.estimate.output_tokens,
            "usd-day": cost - ticket.estimate.cost_usd,
            "usd-month": cost - ticket.estimate.cost_usd,
            "conc": -1,
        }
        clock = time.monotonic()
        adjustments = []
        for counter in ticket.counters:
            delta = actual.get(counter.kind, 0)
            if not delta:
                continue
            left = counter.deadline - clock if counter.deadline else 0.0
            if counter.deadline and left <= 0:
                continue  # that window is over; nothing to correct
            adjustments.append(
                Charge(
                    counter.charge.counter, delta, counter.charge.limit, left, local=ticket.local
                )
            )
        if not adjustments:
            return
        try:
            started = self._store.adjust(adjustments)
        except Exception as error:
            logger.warning("could not settle usage against limits", exc_info=error)
            return
        landing = asyncio.ensure_future(started)  # a future stays itself: no task for it
        if landing.done():  # applied at once
            _report(landing)
            return
        landing.add_done_callback(_report)
        self._settling.add(landing)
        landing.add_done_callback(self._settling.discard)

    async def restore(self, spend: list[WindowSpend], now: float) -> int:
        """Start in-process counters from what the ledger holds for the open windows, so a
        restart does not hand out a day's budget again. Every subject a row could have been
        charged as (its key, principal and team, with and without the model for per-model
        limits) gets the row's figures; a counter no plan uses is never read. Concurrency
        is not restored: no call of the last process is running. Returns the counters set."""
        minute, minute_left, day, day_left, month, month_left = _windows(now)
        totals: dict[str, list[float]] = {}

        def add(name: str, amount: float, ttl: float) -> None:
            if amount:
                totals.setdefault(name, [0.0, ttl])[0] += amount

        for row in spend:
            subjects = [f"principal:{row.principal_id}", f"team:{row.team_id}"]
            if row.key_id is not None:
                subjects.append(f"key:{row.key_id}")
            for subject in subjects:
                add(f"usd-day:{subject}:{day}", row.usd_day, day_left)
                add(f"usd-month:{subject}:{month}", row.usd_month, month_left)
                for scope in (subject, f"{subject}:{row.model}"):
                    add(f"rpm:{scope}:{minute}", row.requests_minute, minute_left)
                    add(f"itpm:{scope}:{minute}", row.input_minute, minute_left)
                    add(f"otpm:{scope}:{minute}", row.output_minute, minute_left)
        if totals:
            charges = [Charge(name, amount, 0.0, ttl) for name, (amount, ttl) in totals.items()]
            await self._store.adjust(charges)
        return len(totals)

    async def drain(self) -> None:
        """Wait for every settlement still on its way (at shutdown, before the store closes)."""
        while self._settling:
            await asyncio.wait(list(self._settling))


def _report(landing: asyncio.Future[None]) -> None:
    """Log a settlement that could not land (the counter store may be down; limits self-heal
    per window)."""
    error = None if landing.cancelled() else landing.exception()
    if error is not None:
        logger.warning("could not settle usage against limits", exc_info=error)


def _check_plan(applied: AppliedPlan, model: str) -> None:
    plan = applied.plan
    owner = applied.subject.split(":", 1)[0]
    if not plan.active:
        raise PermissionDeniedError(
            f"The {owner}'s usage plan '{plan.name}' is inactive: ask an admin to activate it.",
            code="plan_inactive",
        )
    if not plan.allows(model):
        raise ModelNotAllowedError(
            f"The {owner}'s usage plan '{plan.name}' does not allow the model '{model}'.",
            param="model",
        )


_UNITS = {
    "rpm": "requests per minute",
    "itpm": "input tokens per minute",
    "otpm": "output tokens per minute",
    "conc": "concurrent requests",
}


def _refusal(counter: _Counter, retry_after: float | None, now: float) -> RateLimitError:
    owner = counter.plan.subject.split(":", 1)[0]
    limit = counter.charge.limit
    wait = math.ceil(retry_after) if retry_after else 1
    headers = {"Retry-After": str(max(wait, 1))}
    suffix = {"rpm": "requests", "itpm": "tokens"}.get(counter.kind)
    if suffix is not None:
        headers[f"x-ratelimit-limit-{suffix}"] = f"{limit:g}"
        headers[f"x-ratelimit-remaining-{suffix}"] = "0"
        headers[f"x-ratelimit-reset-{suffix}"] = f"{retry_after or 0:.3f}s"
    if counter.kind.startswith("usd-"):
        period = "daily" if counter.kind == "usd-day" else "monthly"
        resets = datetime.fromtimestamp(now + (retry_after or 0), UTC).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        return BudgetExceededError(
            f"The {owner}'s {period} budget of ${limit:g} (plan '{counter.plan.plan.name}') "
            f"would be exceeded by this request; it resets at {resets}.",
            headers=headers,
        )
    unit = _UNITS[counter.kind]
    if counter.charge.amount > limit:
        return RateLimitError(
            f"This request needs {counter.charge.amount:g} {unit}, more than the {owner}'s limit "
            f"of {limit:g} (plan '{counter.plan.plan.name}'): send a smaller request.",
            code="request_too_large",
        )
    return RateLimitError(
        f"Rate limit reached for the {owner}: {limit:g} {unit} "
        f"(plan '{counter.plan.plan.name}'). Retry after {max(wait, 1)}s.",
        headers=headers,
    )


def _rate_headers(counters: list[_Counter], values: tuple[float, ...]) -> dict[str, str]:
    """OpenAI-style ``x-ratelimit-*`` headers for the first plan's request and token limits."""
    headers: dict[str, str] = {}
    clock = time.monotonic()
    for counter, value in zip(counters, values, strict=False):
        suffix = {"rpm": "requests", "itpm": "tokens"}.get(counter.kind)
        if suffix is None or f"x-ratelimit-limit-{suffix}" in headers:
            continue
        limit = counter.charge.limit
        headers[f"x-ratelimit-limit-{suffix}"] = f"{limit:g}"
        headers[f"x-ratelimit-remaining-{suffix}"] = f"{max(limit - value, 0):g}"
        headers[f"x-ratelimit-reset-{suffix}"] = f"{max(counter.deadline - clock, 0):.3f}s"
    return headers
