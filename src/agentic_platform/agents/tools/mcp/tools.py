"""The tools of the configured MCP servers, as :class:`~agentic_platform.agents.tools.base.Tool`
objects a run's :class:`~agentic_platform.agents.tools.toolbox.ToolBox` calls.

A server's tool ``add`` is offered to the model as ``<server>__add`` (characters the
chat-completions API does not allow in a name become ``_``; names are cut to 64). A result
is the text of its content blocks (or its structured content as JSON when it has no text);
a result the server marks as an error, a refused call and a lost connection are each a
:class:`ToolError`, so the model reads what went wrong and the run goes on. Timeouts and
the output cap are the ToolBox's, as for every other tool.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import mcp_types
import orjson

from agentic_platform.agents.tools.base import FunctionTool, Tool, ToolError
from agentic_platform.agents.tools.mcp.connection import McpConnection, McpServerUnavailable
from agentic_platform.agents.tools.mcp.settings import McpServerSettings

logger = logging.getLogger("agentic_platform.agents")
_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")
MAX_TOOL_NAME = 64
RETRY_SECONDS = 30.0
"""How long a server that could not be reached is left alone before a run tries again (so
one server that is down does not slow every run by its timeout)."""


def tool_name(server: str, tool: str) -> str:
    """The name the model sees for ``tool`` of ``server``."""
    return _UNSAFE.sub("_", f"{server}__{tool}")[:MAX_TOOL_NAME]


def _remote_call(connection: McpConnection, remote_name: str) -> Callable[..., Awaitable[str]]:
    async def call(**arguments: Any) -> str:
        result = await connection.call(remote_name, arguments)
        text = result_text(result)
        if result.is_error:
            raise ToolError(text or "the MCP tool reported an error")
        return text

    return call


def result_text(result: mcp_types.CallToolResult) -> str:
    """What the model reads of a tool result."""
    parts = []
    for block in result.content:
        if isinstance(block, mcp_types.TextContent):
            parts.append(block.text)
        else:
            parts.append(f"[{block.type} content left out]")
    has_text = any(isinstance(block, mcp_types.TextContent) for block in result.content)
    if not has_text and result.structured_content is not None:
        return orjson.dumps(result.structured_content).decode()
    return "\n".join(parts)


def _tool(server: str, tool: mcp_types.Tool, connection: McpConnection) -> Tool:
    schema = dict(tool.input_schema) if tool.input_schema else {"type": "object"}
    description = tool.description or tool.title or tool.name
    return FunctionTool(
        tool_name(server, tool.name),
        f"[{server}] {description}",
        schema,
        _remote_call(connection, tool.name),
    )


class McpServers:
    """The configured MCP servers of this process, connected when a run first needs them."""

    def __init__(self, servers: Sequence[McpServerSettings]) -> None:
        self._settings = list(servers)
        self._connections: dict[str, McpConnection] = {}
        self._opening: dict[str, asyncio.Lock] = {server.name: asyncio.Lock() for server in servers}
        self._failed_at: dict[str, float] = {}

    async def tools_for(self, agent: str) -> list[Tool]:
        """The tools of every server ``agent`` may use; a server that cannot be reached is
        left out (and logged) and tried again by a run :data:`RETRY_SECONDS` later."""
        servers = [server for server in self._settings if server.serves(agent)]
        connections = await asyncio.gather(*(self._connection(server) for server in servers))
        tools: list[Tool] = []
        for server, connection in zip(servers, connections, strict=True):
            if connection is not None:
                listed = await connection.current_tools()
                tools.extend(_tool(server.name, tool, connection) for tool in listed)
        return tools

    async def _connection(self, server: McpServerSettings) -> McpConnection | None:
        async with self._opening[server.name]:
            current = self._connections.get(server.name)
            if current is not None and not current.broken:
                return current
            if current is not None:
                await current.close()
            failed_at = self._failed_at.get(server.name)
            if failed_at is not None and time.monotonic() - failed_at < RETRY_SECONDS:
                return None
            connection = McpConnection(server)
            try:
                await connection.open()
            except McpServerUnavailable as error:
                logger.warning(
                    "MCP server unavailable",
                    extra={"mcp_server": server.name, "reason": str(error)},
                )
                self._connections.pop(server.name, None)
                self._failed_at[server.name] = time.monotonic()
                return None
            self._failed_at.pop(server.name, None)
            self._connections[server.name] = connection
            return connection

    async def aclose(self) -> None:
        for connection in list(self._connections.values()):
            await connection.close()
        self._connections.clear()
