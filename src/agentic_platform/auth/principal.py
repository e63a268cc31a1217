"""The caller of a request, as every service sees it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["admin", "member", "service"]
PrincipalKind = Literal["user", "service"]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling (a user or a service account), in which team, with which roles.

    ``key_id`` names the API key used, if any, so limits and usage can land on the key as well
    as on its owner. ``acting_via`` names the service principal that made the call for this
    user (``X-Agentic-Act-As``); everything else then describes the user.
    """

    id: str
    kind: PrincipalKind
    team_id: str
    roles: frozenset[Role]
    name: str = ""
    key_id: str | None = None
    acting_via: str | None = None
    key_models: tuple[str, ...] | None = None
    """Model patterns the API key used is restricted to (None: no key restriction)."""
    key_plan_id: str | None = None
    """The usage plan attached to the API key used, if any."""
    plan_id: str | None = None
    """The usage plan attached to the principal, if any."""

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def is_service(self) -> bool:
        return "service" in self.roles
