"""One live connection to one MCP server, shared by every run of the process.

The MCP SDK's client holds task groups that must be closed by the task that opened them,
while runs come and go in tasks of their own; so each connection is owned by a task of its
own, which opens the client, lists the tools, and keeps both until the connection is
closed. Runs call tools through it concurrently (MCP matches answers to requests).

A connection that cannot be opened, or breaks under a call, is reported and forgotten: the
next run opens a fresh one (a stdio server that crashed is started again). The tool list is
read when the connection opens and again, by the next run, after the server announces that it
changed (``notifications/tools/list_changed``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import anyio
import httpx2
import mcp_types
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.session import IncomingMessage, MessageHandlerFnT
from mcp.client.streamable_http import streamable_http_client

from agentic_platform.agents.tools.base import ToolError
from agentic_platform.agents.tools.mcp.settings import McpServerSettings

logger = logging.getLogger("agentic_platform.agents")
_BROKEN = (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream, OSError)


class McpServerUnavailable(Exception):
    """The server could not be reached or did not list its tools in time."""


class McpConnection:
    """An open client session with one server, and the tools it listed."""

    def __init__(self, settings: McpServerSettings) -> None:
        self.settings = settings
        self.tools: list[mcp_types.Tool] = []
        self.broken = False
        self._client: Client | None = None
        self._ready = asyncio.Event()
        self._closing = asyncio.Event()
        self._failure: BaseException | None = None
        self._owner: asyncio.Task[None] | None = None
        self._tools_changed = False
        self._listing = asyncio.Lock()

    async def open(self) -> None:
        """Connect and list the tools within the server's ``timeout_seconds``; raises
        :class:`McpServerUnavailable` (and leaves nothing running) when that fails."""
        owner = self._owner = asyncio.create_task(self._own(), name=f"mcp-{self.settings.name}")
        ready = asyncio.ensure_future(self._ready.wait())
        try:
            async with asyncio.timeout(self.settings.timeout_seconds):
                await asyncio.wait([ready, owner], return_when=asyncio.FIRST_COMPLETED)
        except TimeoutError:
            await self.close()
            raise McpServerUnavailable(
                f"no answer within {self.settings.timeout_seconds:g} seconds"
            ) from None
        except asyncio.CancelledError:
            owner.cancel()
            raise
        finally:
            ready.cancel()
        if not self._ready.is_set():
            await self.close()
            raise McpServerUnavailable(_describe(self._failure))

    async def _own(self) -> None:
        try:
            async with _client(self.settings, self._on_message) as client:
                self.tools = await _list_all(client)
                self._client = client
                self._ready.set()
                await self._closing.wait()
        except Exception as error:  # any failure means the server is unavailable
            self._failure = error
        finally:
            self._client = None
            self.broken = True

    async def _on_message(self, message: IncomingMessage) -> None:
        if isinstance(message, mcp_types.ToolListChangedNotification):
            self._tools_changed = True

    async def current_tools(self) -> list[mcp_types.Tool]:
        """The server's tools, listed again if it said they changed since the last listing;
        a listing that fails marks the connection broken (the next run opens a new one)."""
        async with self._listing:
            client = self._client
            if self._tools_changed and client is not None and not self.broken:
                self._tools_changed = False
                try:
                    async with asyncio.timeout(self.settings.timeout_seconds):
                        self.tools = await _list_all(client)
                except (MCPError, TimeoutError, *_BROKEN):
                    self.broken = True
        return self.tools

    async def call(self, name: str, arguments: dict[str, Any]) -> mcp_types.CallToolResult:
        """Call one tool; :class:`ToolError` when the server refuses or is gone."""
        client = self._client
        if client is None or self.broken:
            raise ToolError(f"the MCP server '{self.settings.name}' is not connected")
        try:
            return await client.call_tool(name, arguments)
        except MCPError as error:
            if error.code != mcp_types.CONNECTION_CLOSED:
                raise ToolError(
                    f"the MCP server '{self.settings.name}' refused: {error.message}"
                ) from None
        except _BROKEN:
            pass
        self.broken = True
        raise ToolError(f"the connection to the MCP server '{self.settings.name}' broke")

    async def close(self) -> None:
        self._closing.set()
        if self._owner is not None and not self._owner.done():
            try:
                async with asyncio.timeout(self.settings.timeout_seconds):
                    await asyncio.wait([self._owner])
            except TimeoutError:
                self._owner.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._owner


def _client(
    settings: McpServerSettings, on_message: MessageHandlerFnT
) -> AbstractAsyncContextManager[Client]:
    if settings.transport == "stdio":
        assert settings.command is not None
        parameters = StdioServerParameters(
            command=settings.command,
            args=settings.args,
            env={key: value.get_secret_value() for key, value in settings.env.items()},
        )
        return Client(parameters, mode="legacy", message_handler=on_message)
    return _http_client(settings, on_message)


@asynccontextmanager
async def _http_client(
    settings: McpServerSettings, on_message: MessageHandlerFnT
) -> AsyncIterator[Client]:
    assert settings.url is not None
    headers = {key: value.get_secret_value() for key, value in settings.headers.items()}
    timeout = httpx2.Timeout(settings.timeout_seconds, read=None)
    async with httpx2.AsyncClient(headers=headers, timeout=timeout) as http:
        transport = streamable_http_client(settings.url, http_client=http)
        async with Client(transport, mode="legacy", message_handler=on_message) as client:
            yield client


async def _list_all(client: Client) -> list[mcp_types.Tool]:
    tools: list[mcp_types.Tool] = []
    cursor: str | None = None
    for _page in range(100):
        listing = await client.list_tools(cursor=cursor)
        tools.extend(listing.tools)
        cursor = listing.next_cursor
        if cursor is None:
            break
    return tools


def _describe(failure: BaseException | None) -> str:
    if failure is None:
        return "the connection closed"
    if isinstance(failure, BaseExceptionGroup):
        return _describe(failure.exceptions[0])
    message = str(failure).splitlines()[0][:200] if str(failure) else ""
    return f"{type(failure).__name__}: {message}" if message else type(failure).__name__
