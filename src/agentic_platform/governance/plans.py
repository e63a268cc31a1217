"""Usage plans as the request path sees them: immutable values held in memory.

A plan attaches to an API key, a principal (user or service account) or a team. For a
request, the most specific of key → principal → the configured default plan applies to the
caller, and the team's plan applies on top (its counters are shared by the whole team).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentic_platform.auth.models import TeamRow
from agentic_platform.auth.principal import Principal
from agentic_platform.governance.models import PlanRow


@dataclass(frozen=True, slots=True)
class RateLimits:
    requests_per_minute: int | None = None
    input_tokens_per_minute: int | None = None
    output_tokens_per_minute: int | None = None

    def merged(self, override: RateLimits) -> RateLimits:
        return RateLimits(
            override.requests_per_minute
            if override.requests_per_minute is not None
            else self.requests_per_minute,
            override.input_tokens_per_minute
            if override.input_tokens_per_minute is not None
            else self.input_tokens_per_minute,
            override.output_tokens_per_minute
            if override.output_tokens_per_minute is not None
            else self.output_tokens_per_minute,
        )


@dataclass(frozen=True, slots=True)
class Plan:
    id: str
    name: str
    allowed_models: tuple[str, ...] | None = None
    limits: RateLimits = field(default_factory=RateLimits)
    model_overrides: tuple[tuple[str, RateLimits], ...] = ()
    max_concurrent_requests: int | None = None
    budget_usd_per_day: float | None = None
    budget_usd_per_month: float | None = None
    active: bool = True

    def allows(self, model: str) -> bool:
        return self.allowed_models is None or any(
            fnmatch.fnmatchcase(model, pattern) for pattern in self.allowed_models
        )

    def limits_for(self, model: str) -> tuple[RateLimits, bool]:
        """The limits for ``model`` and whether a per-model override supplied them (its
        counters are then the model's own)."""
        for pattern, override in self.model_overrides:
            if fnmatch.fnmatchcase(model, pattern):
                return self.limits.merged(override), True
        return self.limits, False


def plan_from_row(row: PlanRow) -> Plan:
    overrides: dict[str, Any] = row.model_overrides or {}
    return Plan(
        id=row.id,
        name=row.name,
        allowed_models=tuple(row.allowed_models) if row.allowed_models is not None else None,
        limits=RateLimits(
            row.requests_per_minute, row.input_tokens_per_minute, row.output_tokens_per_minute
        ),
        model_overrides=tuple(
            (pattern, RateLimits(**values)) for pattern, values in overrides.items()
        ),
        max_concurrent_requests=row.max_concurrent_requests,
        budget_usd_per_day=row.budget_usd_per_day,
        budget_usd_per_month=row.budget_usd_per_month,
        active=row.active,
    )


@dataclass(frozen=True, slots=True)
class AppliedPlan:
    """A plan in force for a request, and whose counters it charges (``key:…``,
    ``principal:…`` or ``team:…``)."""

    plan: Plan
    subject: str


class PlanDirectory:
    """Every plan and every attachment, in memory; reloaded by the change feed."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], default_plan: str | None
    ) -> None:
        self._sessions = sessions
        self._default_plan_name = default_plan
        self._plans: dict[str, Plan] = {}
        self._by_team: dict[str, str] = {}
        self._default: Plan | None = None
        self._missing: set[str] = set()

    async def reload(self) -> None:
        async with self._sessions() as session:
            plans = (await session.execute(select(PlanRow))).scalars().all()
            teams = await session.execute(
                select(TeamRow.id, TeamRow.plan_id).where(TeamRow.plan_id.is_not(None))
            )
            self._by_team = {row[0]: row[1] for row in teams if row[1]}
        self._plans = {row.id: plan_from_row(row) for row in plans}
        self._missing = set()
        self._default = next(
            (p for p in self._plans.values() if p.name == self._default_plan_name), None
        )

    def plan(self, plan_id: str) -> Plan | None:
        return self._plans.get(plan_id)

    async def applied_to(self, principal: Principal) -> list[AppliedPlan]:
        """The caller's own plan (most specific wins) and the team's plan, if any. The
        caller's plan ids come with the principal (read with its key), so a plan attached a
        moment ago applies from the first request.

        A service acting for a user (``acting_via``) is held to both: the user's own plan
        (principal, else the default) and the service's (its key's plan, else the service
        principal's), then the user's team plan."""
        applied: list[AppliedPlan] = []
        key_plan = await self._attached(principal.key_plan_id, f"key:{principal.key_id}")
        if principal.acting_via is None:
            own = key_plan or await self._attached(principal.plan_id, f"principal:{principal.id}")
            service = None
        else:
            own = await self._attached(principal.plan_id, f"principal:{principal.id}")
            service = key_plan or await self._attached(
                principal.acting_plan_id, f"principal:{principal.acting_via}"
            )
        if own is None and self._default is not None:
            own = AppliedPlan(self._default, f"principal:{principal.id}")
        applied.extend(entry for entry in (own, service) if entry is not None)
        team_plan_id = self._by_team.get(principal.team_id)
        team_plan = await self._find(team_plan_id) if team_plan_id else None
        if team_plan is not None:
            applied.append(AppliedPlan(team_plan, f"team:{principal.team_id}"))
        return applied

    async def _attached(self, plan_id: str | None, subject: str) -> AppliedPlan | None:
        plan = await self._find(plan_id) if plan_id is not None else None
        return AppliedPlan(plan, subject) if plan is not None else None

    async def _find(self, plan_id: str) -> Plan | None:
        """A plan by id; an id not seen yet (a plan created a moment ago) reloads once."""
        plan = self._plans.get(plan_id)
        if plan is None and plan_id not in self._missing:
            await self.reload()
            plan = self._plans.get(plan_id)
            if plan is None:
                self._missing.add(plan_id)
        return plan
