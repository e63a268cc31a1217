"""``/mcp``: the platform's MCP endpoint (streamable HTTP), behind the platform's own auth.

The caller is authenticated by the same dependency as every other route (``Authorization:
Bearer <key>`` or ``x-api-key``; a missing or bad key is a 401 in the platform's error
envelope) before the request is handed, with its principal, to the MCP session manager.
The endpoint speaks the MCP protocol, not a REST API, so it is left out of the OpenAPI schema.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from agentic_platform.agents.mcp_server.server import PlatformMcpServer
from agentic_platform.agents.router import Agents
from agentic_platform.auth.principal import Principal
from agentic_platform.dependencies import current_principal

router = APIRouter(tags=["mcp"])
MCP_PATH = "/mcp"


class _McpExchange(Response):
    """Lets the MCP server answer the request itself (it writes the ASGI messages)."""

    def __init__(self, server: PlatformMcpServer, caller: Principal) -> None:
        super().__init__()
        self._server = server
        self._caller = caller

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._server.handle(scope, receive, send, self._caller)


@router.api_route(MCP_PATH, methods=["GET", "POST", "DELETE"], include_in_schema=False)
async def mcp_endpoint(
    caller: Annotated[Principal, Depends(current_principal)],
    agents: Agents,
) -> Response:
    return _McpExchange(agents.mcp_endpoint, caller)
