"""HTTP routes of the agent API under ``/agents/v1`` (HTTP only: the logic is in
:mod:`.runner` and :mod:`.service`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response, StreamingResponse

from agentic_platform.agents.events import EVENT_TYPES
from agentic_platform.agents.schemas import AgentList, InvokeRequest, RunResult
from agentic_platform.agents.service import AgentService
from agentic_platform.auth.principal import Principal
from agentic_platform.dependencies import current_principal, platform
from agentic_platform.errors import ServiceUnavailableError
from agentic_platform.web.bodies import body_schema, json_response, parse_body
from agentic_platform.web.disconnect import ClientDisconnected, cancel_on_disconnect

router = APIRouter(prefix="/agents/v1", tags=["agents"])

_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def agent_service(request: Request) -> AgentService:
    service = platform(request).agents
    if service is None:
        raise ServiceUnavailableError("The agents service is not running in this process.")
    return service


Caller = Annotated[Principal, Depends(current_principal)]
Agents = Annotated[AgentService, Depends(agent_service)]


@router.get("", response_model=AgentList, summary="List the agents and workflows served here.")
async def list_agents(_caller: Caller, agents: Agents) -> Response:
    return json_response(agents.cards())


@router.post(
    "/{name}/invoke",
    response_model=RunResult,
    openapi_extra=body_schema(InvokeRequest),
    summary="Run an agent and answer its final message, tool calls, steps, usage and cost.",
)
async def invoke(name: str, request: Request, caller: Caller, agents: Agents) -> Response:
    agents.registry.get(name)
    body = await parse_body(request, InvokeRequest)
    run = await agents.runner.prepare(caller, name, body, streaming=False)
    try:
        result = await cancel_on_disconnect(request.receive, agents.runner.execute(run))
    except ClientDisconnected:
        return Response(status_code=499)
    return json_response(result)


@router.post(
    "/{name}/stream",
    openapi_extra={
        **body_schema(InvokeRequest),
        "responses": {
            "200": {
                "description": "Server-sent events: " + ", ".join(EVENT_TYPES) + ".",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            }
        },
    },
    summary="Run an agent, streaming its events (server-sent events).",
)
async def stream(name: str, request: Request, caller: Caller, agents: Agents) -> Response:
    agents.registry.get(name)
    body = await parse_body(request, InvokeRequest)
    run = await agents.runner.prepare(caller, name, body, streaming=True)
    return StreamingResponse(
        agents.stream(run), media_type="text/event-stream", headers=_SSE_HEADERS
    )
