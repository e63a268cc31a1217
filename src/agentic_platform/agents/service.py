"""The agents service: the registry and the runner of this process, and streamed runs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx

from agentic_platform.agents.events import Event, RunError, sse_frame
from agentic_platform.agents.mcp_server.server import PlatformMcpServer
from agentic_platform.agents.registry import AgentRegistry, load_registry
from agentic_platform.agents.runner import AgentRunner, PreparedRun
from agentic_platform.agents.schemas import AgentCard, AgentList
from agentic_platform.agents.store import RunStore
from agentic_platform.agents.tools.mcp.tools import McpServers
from agentic_platform.clients.internal import service_target
from agentic_platform.errors import PlatformError
from agentic_platform.state import PlatformState

logger = logging.getLogger("agentic_platform.agents")


class AgentService:
    def __init__(self, state: PlatformState, registry: AgentRegistry) -> None:
        self.registry = registry
        self.runs = RunStore(state.sessions)
        self.http = httpx.AsyncClient(timeout=state.settings.agents.tool_timeout_seconds)
        """Shared by the tools that call the outside world (one connection pool)."""
        self.mcp = McpServers(state.settings.agents.mcp_servers)
        """The MCP servers whose tools agents offer (connected on first use)."""
        self.runner = AgentRunner(state, registry, self.runs, self.http, self.mcp)
        self.mcp_endpoint = PlatformMcpServer(state, self.runner)
        """The platform's own MCP server at ``/mcp`` (its sessions run while the service does)."""
        self._streams: set[asyncio.Task[None]] = set()

    def cards(self) -> AgentList:
        return AgentList(
            data=[
                AgentCard(
                    name=agent.name,
                    description=agent.description,
                    kind=agent.kind,
                    input_schema=agent.input_schema,
                    tools=list(agent.tools),
                )
                for agent in self.registry
            ]
        )

    async def stream(self, run: PreparedRun) -> AsyncIterator[bytes]:
        """The run's events as server-sent events, while it runs in a task of its own. When
        the consumer stops (the client went away), the run is cancelled and awaited."""
        queue = run.ctx.events
        assert queue is not None, "prepared with streaming=True"
        task = asyncio.create_task(self._drive(run, queue))
        self._streams.add(task)
        task.add_done_callback(self._streams.discard)
        try:
            while (event := await queue.get()) is not None:
                yield sse_frame(event)
        finally:
            if not task.done():
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([task])

    async def _drive(self, run: PreparedRun, queue: asyncio.Queue[Event | None]) -> None:
        try:
            await self.runner.execute(run)
        except PlatformError:
            pass  # sent as the error event
        except Exception as error:
            logger.error("agent run failed", exc_info=error)
            queue.put_nowait(
                RunError(
                    run_id=run.ctx.run_id,
                    message="The run failed.",
                    code="agent_failed",
                    status=500,
                )
            )
        finally:
            queue.put_nowait(None)

    async def aclose(self) -> None:
        """Cancel the streamed runs still going (the server is stopping)."""
        for task in list(self._streams):
            task.cancel()
        if self._streams:
            await asyncio.wait(list(self._streams))
        await self.mcp.aclose()
        await self.http.aclose()


async def start_agents(state: PlatformState, stack: AsyncExitStack) -> None:
    service_target(state, "llm-gateway")  # agents need a gateway: say so at start-up
    service = AgentService(state, load_registry(state.settings.agents))
    stack.push_async_callback(service.aclose)
    await stack.enter_async_context(service.mcp_endpoint.running())
    state.agents = service
