"""Everything a running app holds, built in its lifespan and reached through ``app.state``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.types import ASGIApp

from agentic_platform.auth.external import ExternalPrincipals
from agentic_platform.auth.oidc import OIDCVerifier
from agentic_platform.auth.service import IdentityStore, KeyAuthenticator
from agentic_platform.governance.metering import Metering
from agentic_platform.llm_gateway.service import LLMGateway
from agentic_platform.settings import Settings
from agentic_platform.telemetry.runtime import Telemetry

if TYPE_CHECKING:
    from agentic_platform.agents.service import AgentService
    from agentic_platform.memory.service import MemoryGateway
    from agentic_platform.retrieval.service import RetrievalService


@dataclass
class PlatformState:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    authenticator: KeyAuthenticator
    identities: IdentityStore
    service_key: str = ""
    """The key this process's services use to call each other for a user."""
    platform_service_id: str = ""
    running_services: tuple[str, ...] = ()
    """The services this process serves (``agentic serve`` runs one; ``agentic up`` all)."""
    readiness: dict[str, Callable[[], Awaitable[None]]] = field(default_factory=dict)
    """Checks ``/readyz`` runs: each raises if its backend does not answer."""
    app: ASGIApp | None = None
    """The app itself, so services in this process call each other through an in-process
    transport (the same typed clients that cross the network in Kubernetes)."""
    metering: Metering | None = None
    telemetry: Telemetry = field(default_factory=Telemetry)
    """Tracer and metrics (both None while telemetry is off)."""
    oidc: OIDCVerifier | None = None
    external: ExternalPrincipals = field(init=False)
    llm: LLMGateway | None = None
    memory: MemoryGateway | None = None
    retrieval: RetrievalService | None = None
    agents: AgentService | None = None

    def __post_init__(self) -> None:
        self.external = ExternalPrincipals(self.sessions, self.identities)
