"""A tiny MCP server for the agent tests (``add``, ``hang``, ``fail``, ``learn``, ``crash``),
served over stdio when run as a script and over streamable HTTP through :func:`http_app`; and
``tool-bot``, the scripted model that calls whichever tool the user's message names."""

from __future__ import annotations

import asyncio
import json
import os

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from starlette.applications import Starlette

from agentic_platform.llm_gateway.catalog import Deployment, ModelEntry
from agentic_platform.llm_gateway.schemas import (
    ChatCompletionRequest,
    ToolMessage,
    UserMessage,
    message_text,
)


def multiply(a: int, b: int) -> int:
    return a * b


def build_server() -> MCPServer:
    server = MCPServer("test-tools")

    @server.tool(description="Add two integers.")
    def add(a: int, b: int) -> int:
        return a + b

    @server.tool(description="Never answers.")
    async def hang() -> str:
        await asyncio.sleep(3600)
        return "never"

    @server.tool(description="Always fails.")
    def fail() -> str:
        raise ToolError("the disk is full")

    @server.tool(description="Learns to multiply: adds the tool and tells the clients.")
    async def learn(ctx: Context) -> str:
        server.add_tool(multiply, description="Multiply two integers.")
        await ctx.session.send_tool_list_changed()
        return "learned"

    @server.tool(description="Ends the server's process.")
    def crash() -> str:
        os._exit(3)

    return server


def http_app() -> Starlette:
    return build_server().streamable_http_app()


def tool_call_reply(request: ChatCompletionRequest) -> str | dict[str, object]:
    """The user's message is ``{"tool": name, "arguments": {...}}``: call it, then answer
    "Result: <what the tool gave back>"."""
    last = request.messages[-1]
    if isinstance(last, ToolMessage):
        return f"Result: {message_text(last.content)}"
    user = [m for m in request.messages if isinstance(m, UserMessage)][-1]
    wanted = json.loads(message_text(user.content))
    offered = sorted(tool.function.name for tool in request.tools or [])
    if wanted["tool"] not in offered:
        return f"Not offered: {wanted['tool']}; the tools are: {', '.join(offered)}"
    return {"tool_calls": [{"name": wanted["tool"], "arguments": wanted["arguments"]}]}


TOOL_BOT = ModelEntry(
    alias="tool-bot",
    capabilities={"chat", "streaming", "tools"},
    deployments=[
        Deployment(
            provider="test",
            model="tool-bot",
            options={"function": "mcp_tool_server:tool_call_reply"},
        )
    ],
)

if __name__ == "__main__":
    build_server().run()
