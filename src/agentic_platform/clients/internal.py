"""Clients one platform service uses to call another for a user.

The call carries the platform's service key and ``X-Agentic-Act-As: <user id>``, so the
callee authenticates, limits, meters and scopes it as the user's own. When the callee runs
in this process the client's transport is in-process (no socket); otherwise it goes to the
URL in ``service_urls``. Same class, same headers, same code path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import httpx

from agentic_platform.auth.principal import Principal
from agentic_platform.clients.asgi import StreamingASGITransport
from agentic_platform.clients.llm import LLMClient
from agentic_platform.dependencies import acting_headers
from agentic_platform.errors import ConfigurationError
from agentic_platform.state import PlatformState

if TYPE_CHECKING:
    from agentic_platform.memory.client import MemoryClient
    from agentic_platform.retrieval.client import RetrievalClient

IN_PROCESS_URL = "http://in-process"

C = TypeVar("C")


def service_target(
    state: PlatformState, service: str
) -> tuple[str, httpx.AsyncBaseTransport | None]:
    """Where ``service`` is reached: its base URL and, in this process, the transport."""
    url = state.settings.service_urls.get(service)
    if url is not None:
        return url, None
    if service in state.running_services and state.app is not None:
        return IN_PROCESS_URL, StreamingASGITransport(state.app)
    raise ConfigurationError(
        f"the {service} service is not in this process: set AGENTIC_SERVICE_URLS "
        f'(e.g. {{"{service}": "http://{service}:8080"}})'
    )


def _acting_client(
    state: PlatformState, service: str, user: Principal, client: Callable[..., C]
) -> C:
    base_url, transport = service_target(state, service)
    return client(
        base_url,
        state.service_key,
        transport=transport,
        headers=acting_headers(user),
        tracer=state.telemetry.tracer,
    )


def llm_client_for(state: PlatformState, user: Principal) -> LLMClient:
    """An LLM gateway client whose calls count as ``user``'s. Close it after use."""
    return _acting_client(state, "llm-gateway", user, LLMClient)


def retrieval_client_for(state: PlatformState, user: Principal) -> RetrievalClient:
    """A retrieval gateway client whose calls count as ``user``'s. Close it after use."""
    from agentic_platform.retrieval.client import RetrievalClient

    return _acting_client(state, "retrieval", user, RetrievalClient)


def memory_client_for(state: PlatformState, user: Principal) -> MemoryClient:
    """A memory gateway client that reads and writes ``user``'s memory. Close it after use."""
    from agentic_platform.memory.client import MemoryClient

    return _acting_client(state, "memory", user, MemoryClient)
