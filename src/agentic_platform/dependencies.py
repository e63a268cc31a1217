"""FastAPI dependencies: the only way handlers reach app state."""

from __future__ import annotations

from fastapi import Request

from agentic_platform.auth.principal import Principal
from agentic_platform.errors import AuthenticationError, ServiceUnavailableError
from agentic_platform.llm_gateway.service import LLMGateway
from agentic_platform.state import PlatformState


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
    return await platform(request).authenticator.authenticate(secret)


def llm_gateway(request: Request) -> LLMGateway:
    gateway = platform(request).llm
    if gateway is None:
        raise ServiceUnavailableError("The LLM gateway is not running in this process.")
    return gateway
