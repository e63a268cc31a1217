"""Key delegation: a key may create or change keys only within its own limits.

The limits of a key are its model allowlist, its expiry and its plan. For a caller who is
not an admin, a key it creates, changes or rotates must be at most as permitted as the key
it signed in with (and, when changed, as the key was before):

* models: every pattern is one of the bound's patterns, or a model name (no glob
  characters) that one of them matches; no allowlist (all models) only within no allowlist;
* expiry: no later than the bound's; no expiry only within no expiry;
* plan: never chosen by a non-admin. A key with a plan of its own cannot create keys or be
  rotated by a non-admin, because a plan's counters are kept per key: a new key would start
  with fresh counters (a fresh daily budget). A key without a plan falls back to its owner's
  plan, whose counters every key of the owner shares.

A caller signed in with an OIDC token uses no key, so only its principal's and team's plans
bound it: it may create keys for itself with any allowlist and expiry, never with a plan.
Admins manage every key; a limit on an admin's own key restricts only its model calls.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from agentic_platform.auth.models import ApiKeyRow
from agentic_platform.errors import PermissionDeniedError

GLOB_CHARACTERS = frozenset("*?[")


@dataclass(frozen=True, slots=True)
class KeyLimits:
    """What a key allows: None is "no limit" for models and expiry."""

    allowed_models: Sequence[str] | None = None
    expires_at: datetime | None = None
    plan_id: str | None = None

    @classmethod
    def of(cls, row: ApiKeyRow | None) -> KeyLimits:
        """A key row's limits; no row (an OIDC token) is no key limit."""
        if row is None:
            return cls()
        return cls(row.allowed_models, row.expires_at, row.plan_id)


def models_within(candidate: Sequence[str] | None, bound: Sequence[str] | None) -> bool:
    if bound is None:
        return True
    if candidate is None:
        return False
    return all(
        pattern in bound
        or (
            not GLOB_CHARACTERS & set(pattern)
            and any(fnmatch.fnmatchcase(pattern, allowed) for allowed in bound)
        )
        for pattern in candidate
    )


def expiry_within(candidate: datetime | None, bound: datetime | None) -> bool:
    return bound is None or (candidate is not None and candidate <= bound)


def check_within(candidate: KeyLimits, bounds: Sequence[KeyLimits]) -> None:
    """Refuse ``candidate`` unless its models and expiry are within every bound (the key
    signed in with, and for a change the key as it was)."""
    for bound in bounds:
        if not models_within(candidate.allowed_models, bound.allowed_models):
            raise PermissionDeniedError(
                "A key may only narrow what it allows: allowed_models must list only patterns "
                f"or model names within {list(bound.allowed_models or [])}.",
                param="allowed_models",
                code="exceeds_key_limits",
            )
        if not expiry_within(candidate.expires_at, bound.expires_at):
            assert bound.expires_at is not None
            raise PermissionDeniedError(
                "A key may only narrow what it allows: expires_at must be no later than "
                f"{bound.expires_at.isoformat()}.",
                param="expires_at",
                code="exceeds_key_limits",
            )


def refuse_own_plan(limits: KeyLimits, action: str) -> None:
    """A non-admin may not create keys from, or rotate, a key with a plan of its own."""
    if limits.plan_id is not None:
        raise PermissionDeniedError(
            f"A key with its own usage plan cannot {action}: the plan's limits are counted per "
            "key, so a new key would start afresh. Ask an admin.",
            code="exceeds_key_limits",
        )
