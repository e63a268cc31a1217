"""The platform as an MCP server: the caller's knowledge bases, memory and agents as tools.

Every request reaches the handlers already authenticated (the route at ``/mcp`` puts the
caller's :class:`~agentic_platform.auth.principal.Principal` in the ASGI scope), and every
tool acts for that caller through the same typed clients an agent run uses, so an IDE or
desktop assistant sees exactly what its key's owner may see:

* ``search_knowledge_base``: the caller's knowledge bases (listed only when they have some);
* ``recall`` and ``remember``: the caller's memory (listed when memory is reachable);
* ``agent_<name>`` for every agent and workflow: a real run for the caller (``message``,
  optional ``session_id`` and ``knowledge_bases``), recorded like any other run.

A tool that fails answers an MCP error result (``isError``) with a message for the caller; no
exception text of the platform's own reaches it. The session manager runs stateless with
JSON answers: each request stands alone, so any replica can serve it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import mcp_types
from mcp.server.lowlevel.server import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from pydantic import ValidationError
from starlette.types import Receive, Scope, Send

from agentic_platform import __version__
from agentic_platform.agents.mcp_server.hang_up import HangUp
from agentic_platform.agents.runner import AgentRunner
from agentic_platform.agents.schemas import InvokeRequest
from agentic_platform.auth.principal import Principal
from agentic_platform.clients.internal import (
    memory_client_for,
    retrieval_client_for,
    service_target,
)
from agentic_platform.errors import ConfigurationError, PlatformError
from agentic_platform.memory.tools import memory_tools
from agentic_platform.retrieval.tools import KnowledgeBaseSearchTool
from agentic_platform.state import PlatformState
from agentic_platform.web.disconnect import ClientDisconnected, cancel_on_disconnect

if TYPE_CHECKING:
    from agentic_platform.retrieval.client import RetrievalClient

logger = logging.getLogger("agentic_platform.agents")
PRINCIPAL_SCOPE_KEY = "agentic_platform.principal"
HANG_UP_SCOPE_KEY = "agentic_platform.mcp_hang_up"
AGENT_TOOL_PREFIX = "agent_"
_Context = Any  # mcp's ServerRequestContext[dict[str, Any], Request]


class ToolRefused(Exception):
    """A call the caller can correct (unknown tool, bad arguments): the message is theirs."""


AGENT_TOOL_INPUT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "message": {"type": "string", "description": "What to ask the agent."},
        "session_id": {
            "type": "string",
            "description": "Continue this conversation (one of your sessions); omit to "
            "start a new one.",
        },
        "knowledge_bases": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Knowledge bases to ground the answer in.",
        },
    },
    "required": ["message"],
}
"""What an ``agent_<name>`` tool takes (an :class:`InvokeRequest` without the extras)."""


class PlatformMcpServer:
    """The MCP server of this process and its streamable-HTTP session manager."""

    def __init__(self, state: PlatformState, runner: AgentRunner) -> None:
        self._state = state
        self._runner = runner
        self.server: Server[Any] = Server(
            "agentic-platform",
            version=__version__,
            instructions="Search your knowledge bases, recall and remember, and run agents.",
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
        )
        self.sessions = StreamableHTTPSessionManager(
            self.server, stateless=True, json_response=True
        )

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The session manager's lifetime (entered by the agents service start-up). The
        manager holds a task group, which must be closed by the task that opened it; a task
        of its own owns it, so the app's start and stop may run in different tasks."""
        started, stopping = asyncio.Event(), asyncio.Event()

        async def own() -> None:
            async with self.sessions.run():
                started.set()
                await stopping.wait()

        owner = asyncio.create_task(own(), name="mcp-sessions")
        waiter = asyncio.ensure_future(started.wait())
        await asyncio.wait([owner, waiter], return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if owner.done():
            owner.result()  # raises why it could not start
        try:
            yield
        finally:
            stopping.set()
            await owner

    async def handle(self, scope: Scope, receive: Receive, send: Send, caller: Principal) -> None:
        """Serve one authenticated MCP request. The SDK does not watch a JSON-answered
        request for its client going away, so :class:`HangUp` does, and an agent run under it
        is cancelled when it does."""
        async with HangUp.watching(receive) as hang_up:
            await self.sessions.handle_request(
                {**scope, PRINCIPAL_SCOPE_KEY: caller, HANG_UP_SCOPE_KEY: hang_up},
                hang_up.receive,
                send,
            )

    # --- the handlers ----------------------------------------------------------------

    async def _list_tools(
        self, ctx: _Context, _params: mcp_types.PaginatedRequestParams | None
    ) -> mcp_types.ListToolsResult:
        caller = _caller(ctx)
        tools: list[mcp_types.Tool] = []
        if self._reachable("retrieval"):
            async with retrieval_client_for(self._state, caller) as retrieval:
                search = await _search_tool(retrieval)
            if search is not None:
                tools.append(_tool(search.name, search.description, search.parameters()))
        if self._reachable("memory"):
            async with memory_client_for(self._state, caller) as memory:
                for recall_or_remember in memory_tools(memory):
                    tools.append(
                        _tool(
                            recall_or_remember.name,
                            recall_or_remember.description,
                            recall_or_remember.parameters,
                        )
                    )
        for agent in self._runner.registry:
            tools.append(
                _tool(f"{AGENT_TOOL_PREFIX}{agent.name}", agent.description, AGENT_TOOL_INPUT)
            )
        return mcp_types.ListToolsResult(tools=tools, cache_scope="private")

    async def _call_tool(
        self, ctx: _Context, params: mcp_types.CallToolRequestParams
    ) -> mcp_types.CallToolResult:
        caller = _caller(ctx)
        arguments = dict(params.arguments or {})
        try:
            text = await self._dispatch(caller, params.name, arguments, _hang_up(ctx))
        except ClientDisconnected:
            return _error("the client went away; the run was cancelled")
        except ToolRefused as error:
            return _error(str(error))
        except PlatformError as error:
            return _error(error.message)
        except (TypeError, ValidationError) as error:
            return _error(f"the arguments do not fit the tool '{params.name}': {_first(error)}")
        except Exception as error:
            logger.warning("MCP tool failed", exc_info=error, extra={"tool": params.name})
            return _error(f"the tool '{params.name}' failed ({type(error).__name__})")
        return mcp_types.CallToolResult(content=[mcp_types.TextContent(type="text", text=text)])

    async def _dispatch(
        self, caller: Principal, name: str, arguments: dict[str, Any], hang_up: HangUp | None
    ) -> str:
        if name.startswith(AGENT_TOOL_PREFIX):
            agent = name.removeprefix(AGENT_TOOL_PREFIX)
            return await self._run_agent(caller, agent, arguments, hang_up)
        if name == "search_knowledge_base" and self._reachable("retrieval"):
            return await self._search(caller, arguments)
        if name in ("recall", "remember") and self._reachable("memory"):
            return await self._memory(caller, name, arguments)
        raise ToolRefused(f"there is no tool '{name}'")

    # --- the tools -------------------------------------------------------------------

    async def _run_agent(
        self, caller: Principal, name: str, arguments: dict[str, Any], hang_up: HangUp | None
    ) -> str:
        """A recorded run for the caller; cancelled (and recorded so) if the client leaves."""
        if name not in self._runner.registry:
            raise ToolRefused(f"there is no agent '{name}'")
        request = InvokeRequest.model_validate(arguments)
        run = await self._runner.prepare(caller, name, request, streaming=False)
        if hang_up is None:
            return (await self._runner.execute(run)).output
        return (await cancel_on_disconnect(hang_up.disconnected, self._runner.execute(run))).output

    async def _memory(self, caller: Principal, name: str, arguments: dict[str, Any]) -> str:
        async with memory_client_for(self._state, caller) as memory:
            [tool] = [tool for tool in memory_tools(memory) if tool.name == name]
            return await tool.call(arguments)

    async def _search(self, caller: Principal, arguments: dict[str, Any]) -> str:
        async with retrieval_client_for(self._state, caller) as retrieval:
            search = await _search_tool(retrieval)
            if search is None:
                raise ToolRefused("you have no knowledge bases to search")
            return await search(**arguments)

    def _reachable(self, service: str) -> bool:
        try:
            service_target(self._state, service)
        except ConfigurationError:
            return False
        return True


async def _search_tool(retrieval: RetrievalClient) -> KnowledgeBaseSearchTool | None:
    """Search over every knowledge base the client's user may read (None when there are
    none)."""
    names = [kb.name for kb in await retrieval.list_knowledge_bases()]
    if not names:
        return None
    return KnowledgeBaseSearchTool(
        retrieval,
        names,
        description="Search your knowledge bases and return the most relevant passages, with "
        "where they come from.",
    )


def _caller(ctx: _Context) -> Principal:
    caller = ctx.request.scope.get(PRINCIPAL_SCOPE_KEY) if ctx.request is not None else None
    if not isinstance(caller, Principal):  # only reachable by mounting the manager unguarded
        raise PermissionError("the MCP request was not authenticated")
    return caller


def _hang_up(ctx: _Context) -> HangUp | None:
    hang_up = ctx.request.scope.get(HANG_UP_SCOPE_KEY) if ctx.request is not None else None
    return hang_up if isinstance(hang_up, HangUp) else None


def _tool(name: str, description: str, schema: dict[str, Any]) -> mcp_types.Tool:
    return mcp_types.Tool(name=name, description=description, input_schema=schema)


def _error(message: str) -> mcp_types.CallToolResult:
    return mcp_types.CallToolResult(
        content=[mcp_types.TextContent(type="text", text=message)], is_error=True
    )


def _first(error: Exception) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"{where}: {first['msg']}" if where else str(first["msg"])
    return str(error)
