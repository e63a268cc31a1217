"""Shapes of the admin API (``/admin/v1``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agentic_platform.auth.principal import PrincipalKind, Role


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


ModelPatterns = list[str] | None

LIMIT_MAX = 1_000_000_000
"""The largest count limit a plan holds: plan limits are 32-bit integer columns."""
BUDGET_MAX_USD = 1e12

CountLimit = Annotated[int | None, Field(ge=0, le=LIMIT_MAX)]
BudgetUSD = Annotated[float | None, Field(ge=0, le=BUDGET_MAX_USD, allow_inf_nan=False)]


# --- keys ------------------------------------------------------------------------------


class KeyCreate(_In):
    name: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=2000)
    principal_id: str | None = Field(
        default=None, description="Owner of the key (admins only); defaults to the caller."
    )
    expires_at: datetime | None = Field(default=None, description="When the key stops working.")
    expires_in_days: float | None = Field(
        default=None, gt=0, le=36_500, allow_inf_nan=False, description="Or: days from now."
    )
    allowed_models: ModelPatterns = Field(
        default=None, description="Model alias patterns (globs) the key may use; all if unset."
    )
    plan_id: str | None = Field(default=None, description="A plan for this key (admins only).")


def _not_null(value: Any) -> Any:
    if value is None:
        raise ValueError("may not be null (leave the field out to keep its value)")
    return value


class KeyUpdate(_In):
    """Only the fields sent change; ``null`` clears ``allowed_models``, ``plan_id`` and
    ``expires_at`` (within the caller's rights), and is refused for ``name`` and
    ``description``."""

    name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    allowed_models: ModelPatterns = None
    plan_id: str | None = None
    expires_at: datetime | None = None

    _names_not_null = field_validator("name", "description", mode="before")(_not_null)


class KeyRotate(_In):
    grace_seconds: float = Field(
        default=0, ge=0, le=7 * 86400, description="How long the old key keeps working."
    )


class KeyOut(_Out):
    id: str
    name: str
    description: str
    prefix: str = Field(
        description="The start of the secret, to recognise it; never enough to use."
    )
    principal_id: str
    allowed_models: ModelPatterns
    plan_id: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class KeyCreated(KeyOut):
    secret: str = Field(description="The key itself. Shown only in this response.")


# --- principals and teams ----------------------------------------------------------------


class PrincipalCreate(_In):
    name: str = Field(min_length=1, max_length=200)
    kind: PrincipalKind = "user"
    email: str | None = Field(default=None, max_length=320)
    team_id: str | None = Field(default=None, description="Defaults to the caller's team.")
    roles: list[Role] = Field(default=["member"])
    plan_id: str | None = None


class PrincipalUpdate(_In):
    """Only the fields sent change; ``null`` clears ``email`` and ``plan_id`` and is refused
    for the others."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: str | None = None
    team_id: str | None = None
    roles: list[Role] | None = None
    plan_id: str | None = None
    disabled: bool | None = None

    _required_not_null = field_validator("name", "team_id", "roles", "disabled", mode="before")(
        _not_null
    )


class PrincipalOut(_Out):
    id: str
    kind: str
    name: str
    email: str | None
    team_id: str
    roles: list[str]
    plan_id: str | None
    disabled: bool
    issuer: str | None
    created_at: datetime


class TeamCreate(_In):
    name: str = Field(min_length=1, max_length=200)
    plan_id: str | None = None


class TeamUpdate(_In):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    plan_id: str | None = None


class TeamOut(_Out):
    id: str
    name: str
    plan_id: str | None
    created_at: datetime


# --- plans -----------------------------------------------------------------------------


class ModelOverride(_In):
    requests_per_minute: CountLimit = None
    input_tokens_per_minute: CountLimit = None
    output_tokens_per_minute: CountLimit = None


class PlanFields(_In):
    description: str | None = Field(default=None, max_length=2000)
    allowed_models: ModelPatterns = Field(
        default=None, description="Model alias patterns (globs) allowed; all if unset."
    )
    requests_per_minute: CountLimit = None
    input_tokens_per_minute: CountLimit = None
    output_tokens_per_minute: CountLimit = None
    max_concurrent_requests: CountLimit = None
    budget_usd_per_day: BudgetUSD = None
    budget_usd_per_month: BudgetUSD = None
    model_overrides: dict[str, ModelOverride] | None = Field(
        default=None, description="Per-model limits by alias pattern; they get their own counters."
    )
    active: bool | None = None


class PlanCreate(PlanFields):
    name: str = Field(min_length=1, max_length=200)

    @field_validator("name")
    @classmethod
    def _no_spaces(cls, value: str) -> str:
        if value.strip() != value:
            raise ValueError("a plan name must not start or end with spaces")
        return value


class PlanUpdate(PlanFields):
    name: str | None = Field(default=None, min_length=1, max_length=200)


class PlanOut(_Out):
    id: str
    name: str
    description: str
    allowed_models: ModelPatterns
    requests_per_minute: int | None
    input_tokens_per_minute: int | None
    output_tokens_per_minute: int | None
    max_concurrent_requests: int | None
    budget_usd_per_day: float | None
    budget_usd_per_month: float | None
    model_overrides: dict[str, ModelOverride]
    active: bool
    created_at: datetime


class Me(BaseModel):
    principal: PrincipalOut
    key_id: str | None
    acting_via: str | None
    plans: list[PlanOut] = Field(description="Plans in force: the caller's own, then the team's.")


# --- usage -----------------------------------------------------------------------------

GroupBy = Literal["day", "model", "principal", "team"]


class UsageRecordOut(_Out):
    request_id: str
    time: datetime
    principal_id: str
    key_id: str | None
    team_id: str
    acting_via: str | None
    endpoint: str
    model: str
    deployment: str | None
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_usd: float
    latency_ms: float
    status: int
    error_type: str | None
    streamed: bool


class UsageTotal(BaseModel):
    group: str
    requests: int
    errors: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_usd: float


class UsageSummary(BaseModel):
    group_by: GroupBy
    start: datetime | None
    end: datetime | None
    totals: list[UsageTotal]


class UsageRecords(BaseModel):
    records: list[UsageRecordOut]
    next_offset: int | None
