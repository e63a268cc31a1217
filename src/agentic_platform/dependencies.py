"""FastAPI dependencies: the only way handlers reach app state.

They are ``async def`` although they never await: FastAPI runs a plain ``def`` dependency in
a worker thread, a thread hop per request that cost the gateway a fifth of its time."""

from __future__ import annotations

from dataclasses import replace

from fastapi import Request

from agentic_platform.auth.oidc import looks_like_jwt
from agentic_platform.auth.principal import Principal
from agentic_platform.errors import (
    AuthenticationError,
    PermissionDeniedError,
    ServiceUnavailableError,
)
from agentic_platform.governance.metering import Metering
from agentic_platform.llm_gateway.service import LLMGateway
from agentic_platform.logs import principal_id_var
from agentic_platform.state import PlatformState

ACT_AS_HEADER = "X-Agentic-Act-As"
ACT_AS_KEY_HEADER = "X-Agentic-Act-As-Key"
"""The id of the API key the user called the platform with, sent along by the platform's own
services so that key's model allowlist and plan follow the user's call to the next service."""


def acting_headers(user: Principal) -> dict[str, str]:
    """The headers a platform service sends to call another service for ``user``: who, and
    with which API key the user came (so nothing the key forbids is reached through a
    service)."""
    if user.key_id is None:
        return {ACT_AS_HEADER: user.id}
    return {ACT_AS_HEADER: user.id, ACT_AS_KEY_HEADER: user.key_id}


def platform(request: Request) -> PlatformState:
    state: PlatformState = request.app.state.platform
    return state


async def current_principal(request: Request) -> Principal:
    """The caller, from ``Authorization: Bearer <key>`` (or ``x-api-key``)."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            raise AuthenticationError(
                "The Authorization header must be 'Bearer <api key>'.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        secret = credentials.strip()
    else:
        secret = request.headers.get("x-api-key", "")
    if not secret:
        raise AuthenticationError(
            "No API key given: send 'Authorization: Bearer <api key>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    state = platform(request)
    if state.oidc is not None and looks_like_jwt(secret):
        caller = await state.external.resolve(await state.oidc.verify(secret))
    else:
        caller = await state.authenticator.authenticate(secret)
    acting_for = request.headers.get(ACT_AS_HEADER)
    if acting_for is None:
        if ACT_AS_KEY_HEADER in request.headers:
            raise PermissionDeniedError(
                f"{ACT_AS_KEY_HEADER} is only accepted with {ACT_AS_HEADER}.",
                code="act_as_not_allowed",
            )
        principal_id_var.set(caller.id)  # the middleware resets it when the request ends
        return caller
    acting = await _act_as(state, caller, acting_for)
    users_key = request.headers.get(ACT_AS_KEY_HEADER)
    if users_key is not None:
        if not _is_platform(caller, state):
            raise PermissionDeniedError(
                f"Only the platform's own services may send {ACT_AS_KEY_HEADER}.",
                code="act_as_not_allowed",
            )
        acting = await _with_users_key(state, acting, users_key)
    principal_id_var.set(acting.id)
    return acting


async def _with_users_key(state: PlatformState, acting: Principal, key_id: str) -> Principal:
    """A platform service calls for a user who came with API key ``key_id``: the call is as
    that key's (its allowlist, its plan, its usage). If a team's service holds the key, the
    call is that service's acting for the user, checked as if it had called here itself."""
    holder = await state.authenticator.key_by_id(key_id)
    if holder.id == state.platform_service_id:
        return acting  # the platform's own key: nothing more to carry
    if holder.id == acting.id:
        return replace(
            acting,
            key_id=holder.key_id,
            key_models=holder.key_models,
            key_plan_id=holder.key_plan_id,
        )
    if not holder.is_service or holder.key_id is None:
        raise PermissionDeniedError(
            f"{ACT_AS_KEY_HEADER} names a key of another user.", code="act_as_not_allowed"
        )
    _check_team_service(holder, acting)
    return replace(
        acting,
        key_id=holder.key_id,
        acting_via=holder.id,
        acting_roles=holder.roles,
        key_models=holder.key_models,
        key_plan_id=holder.key_plan_id,
        acting_plan_id=holder.plan_id,
    )


async def _act_as(state: PlatformState, caller: Principal, user_id: str) -> Principal:
    """A service principal calls for a user: the request is then the user's (limits, usage,
    memory), remembering which service made it.

    The call never gets more than the service has: a team's service may act only for users
    of its own team (an admin service for users of any team), and for an admin only if it is
    an admin itself. The platform's own service principal (the in-process clients of
    ``clients/internal.py``) may act for anyone; acting for an admin it keeps the admin's
    rights on the service routes it calls, never on the admin API
    (``Principal.may_administer``). The service's key allowlist and plan, and its own plan,
    still apply to the call."""
    if not caller.is_service or caller.key_id is None:
        raise PermissionDeniedError(
            f"Only service principals signed in with a platform API key may send {ACT_AS_HEADER}.",
            code="act_as_not_allowed",
        )
    user = await state.authenticator.principal_by_id(user_id)
    if user is None:
        raise PermissionDeniedError(
            f"{ACT_AS_HEADER} names an unknown or disabled principal.", code="unknown_principal"
        )
    if not _is_platform(caller, state):
        _check_team_service(caller, user)
    return replace(
        user,
        key_id=caller.key_id,
        acting_via=caller.id,
        acting_roles=caller.roles,
        key_models=caller.key_models,
        key_plan_id=caller.key_plan_id,
        acting_plan_id=caller.plan_id,
    )


def _check_team_service(caller: Principal, user: Principal) -> None:
    if user.kind != "user":
        raise PermissionDeniedError(
            f"{ACT_AS_HEADER} names a service account: a service may act only for users.",
            code="act_as_not_allowed",
        )
    if user.team_id != caller.team_id and not caller.is_admin:
        raise PermissionDeniedError(
            f"{ACT_AS_HEADER} names a principal of another team.", code="act_as_not_allowed"
        )
    if user.is_admin and not caller.is_admin:
        raise PermissionDeniedError(
            f"{ACT_AS_HEADER} names an admin: a service may act for an admin only if the "
            "service is an admin itself. Act for a member, or ask an admin to give the "
            "service the admin role.",
            code="act_as_not_allowed",
        )


def _is_platform(caller: Principal, state: PlatformState) -> bool:
    return caller.id == state.platform_service_id


async def metering(request: Request) -> Metering:
    state = platform(request).metering
    assert state is not None, "governance starts with the core"
    return state


async def llm_gateway(request: Request) -> LLMGateway:
    gateway = platform(request).llm
    if gateway is None:
        raise ServiceUnavailableError("The LLM gateway is not running in this process.")
    return gateway
