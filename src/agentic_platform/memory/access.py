"""Who may touch whose memory: the one rule every memory route goes through.

A caller owns what they create; an admin may act on anyone's. A service that calls for a
user arrives here already as that user (``X-Agentic-Act-As``), so it sees exactly what the
user sees. Someone else's session or memory is reported as missing (404), never as
forbidden, so ids cannot be probed for existence.
"""

from __future__ import annotations

from agentic_platform.auth.principal import Principal
from agentic_platform.errors import NotFoundError, PermissionDeniedError


def owner_for(caller: Principal, user_id: str | None) -> str:
    """The owner a request acts on: the caller, or (admins only) the user it names."""
    if user_id is None or user_id == caller.id:
        return caller.id
    if not caller.is_admin:
        raise PermissionDeniedError(
            "Only admins may act on another user's memory.", param="user_id", code="admin_required"
        )
    return user_id


def visible(caller: Principal, owner_id: str) -> bool:
    return caller.is_admin or owner_id == caller.id


def not_found(kind: str, object_id: str) -> NotFoundError:
    return NotFoundError(f"No {kind} '{object_id}'.", param=f"{kind}_id", code=f"{kind}_not_found")
