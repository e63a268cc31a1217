"""Example bodies of the admin routes, shown in the OpenAPI document (``openapi_examples``:
each checked against its model when this module is imported)."""

from __future__ import annotations

from typing import Any

from fastapi import Body
from fastapi.openapi.models import Example
from pydantic import BaseModel

from agentic_platform.governance import schemas


def example(model: type[BaseModel], summary: str, value: dict[str, Any]) -> Any:
    """A ``Body`` whose OpenAPI media type shows ``value`` (validated against ``model``)."""
    model.model_validate(value)
    return Body(openapi_examples={"example": Example(summary=summary, value=value)})


KEY = example(
    schemas.KeyCreate,
    "A key for a service, limited to two models, for 90 days",
    {"name": "support-bot", "allowed_models": ["gpt-4o-mini", "minilm-*"], "expires_in_days": 90},
)
KEY_UPDATE = example(
    schemas.KeyUpdate, "Let the key use every model again", {"allowed_models": None}
)
PRINCIPAL = example(
    schemas.PrincipalCreate,
    "A member",
    {"name": "ada", "email": "ada@example.com", "roles": ["member"]},
)
PRINCIPAL_UPDATE = example(schemas.PrincipalUpdate, "Disable a user", {"disabled": True})
TEAM = example(schemas.TeamCreate, "A team", {"name": "support"})
TEAM_UPDATE = example(schemas.TeamUpdate, "Rename a team", {"name": "customer-support"})
PLAN = example(
    schemas.PlanCreate,
    "60 requests a minute and $5 a day",
    {"name": "starter", "requests_per_minute": 60, "budget_usd_per_day": 5},
)
PLAN_UPDATE = example(schemas.PlanUpdate, "Raise the daily budget", {"budget_usd_per_day": 20})
