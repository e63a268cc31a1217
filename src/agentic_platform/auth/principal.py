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
    user (``X-Agentic-Act-As``); everything else then describes the user, except what the
    service brings along so the call never gets more than the service has: its roles
    (``acting_roles``), its key's model allowlist and plan, and its own plan.
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
    acting_roles: frozenset[Role] = frozenset()
    """The roles of the service principal that acts for this user (empty when not acting)."""
    acting_plan_id: str | None = None
    """The usage plan attached to that service principal, if any."""

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def is_service(self) -> bool:
        return "service" in self.roles

    @property
    def may_administer(self) -> bool:
        """Admin rights on the admin API: an admin calling with its own credential, or a
        service acting for an admin that is itself an admin (never more than both have)."""
        return self.is_admin and (self.acting_via is None or "admin" in self.acting_roles)
