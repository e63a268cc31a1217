"""The services a process can run, and how each plugs into the app.

A service contributes routers and a start-up step that builds its part of
:class:`~agentic_platform.state.PlatformState` (closing what it opened through the exit
stack). ``create_app`` includes the routers of the chosen services and runs their start-up
steps in order, after the core (database, identities).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass

from fastapi import APIRouter

from agentic_platform.state import PlatformState

StartService = Callable[[PlatformState, AsyncExitStack], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    name: str
    routers: Callable[[], list[APIRouter]]
    start: StartService


async def _start_llm_gateway(state: PlatformState, stack: AsyncExitStack) -> None:
    from agentic_platform.llm_gateway.catalog import ModelCatalog
    from agentic_platform.llm_gateway.resilience import Backoff
    from agentic_platform.llm_gateway.service import LLMGateway

    settings = state.settings
    gateway = LLMGateway(
        ModelCatalog(settings.models),
        Backoff(settings.gateway.retry_backoff_seconds, settings.gateway.retry_backoff_max_seconds),
        state.telemetry.metrics,
        cooldown=settings.gateway.cooldown,
    )
    stack.push_async_callback(gateway.aclose)
    state.llm = gateway


def _llm_routers() -> list[APIRouter]:
    from agentic_platform.governance.router import router as admin_router
    from agentic_platform.llm_gateway.completions.router import router as completions_router
    from agentic_platform.llm_gateway.listing.router import router as listing_router
    from agentic_platform.llm_gateway.messages.router import router as messages_router
    from agentic_platform.llm_gateway.rerank_router import router as rerank_router
    from agentic_platform.llm_gateway.responses.router import router as responses_router
    from agentic_platform.llm_gateway.router import router

    return [
        router,
        messages_router,
        rerank_router,
        responses_router,
        completions_router,
        listing_router,
        admin_router,
    ]


async def _start_retrieval(state: PlatformState, stack: AsyncExitStack) -> None:
    from agentic_platform.retrieval.service import RetrievalService

    service = RetrievalService(state, state.settings.retrieval)
    stack.push_async_callback(service.aclose)
    await service.jobs.recover()
    if state.telemetry.metrics is not None:
        state.telemetry.metrics.watch_queue("ingestion_jobs", lambda: service.jobs.in_flight)
    state.retrieval = service


def _retrieval_routers() -> list[APIRouter]:
    from agentic_platform.retrieval.router import router

    return [router]


async def _start_memory(state: PlatformState, stack: AsyncExitStack) -> None:
    from agentic_platform.memory.service import start_memory

    await start_memory(state, stack)


def _memory_routers() -> list[APIRouter]:
    from agentic_platform.memory.router import router

    return [router]


async def _start_agents(state: PlatformState, stack: AsyncExitStack) -> None:
    from agentic_platform.agents.service import start_agents

    await start_agents(state, stack)


def _agents_routers() -> list[APIRouter]:
    from agentic_platform.agents.mcp_server.router import router as mcp_router
    from agentic_platform.agents.router import router

    return [router, mcp_router]


async def _start_console(state: PlatformState, stack: AsyncExitStack) -> None:
    """The console is static pages that call the other services' public APIs."""


def _console_routers() -> list[APIRouter]:
    from agentic_platform.console.router import router

    return [router]


SERVICES: dict[str, ServiceSpec] = {
    "llm-gateway": ServiceSpec("llm-gateway", _llm_routers, _start_llm_gateway),
    "retrieval": ServiceSpec("retrieval", _retrieval_routers, _start_retrieval),
    "memory": ServiceSpec("memory", _memory_routers, _start_memory),
    "agents": ServiceSpec("agents", _agents_routers, _start_agents),
    "console": ServiceSpec("console", _console_routers, _start_console),
}
