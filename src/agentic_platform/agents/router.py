"""HTTP routes of the agent API under ``/agents/v1`` (HTTP only: the logic is in
:mod:`.runner` and :mod:`.service`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response, StreamingResponse

from agentic_platform.agents.events import EVENT_TYPES
from agentic_platform.agents.schemas import (
    AgentList,
    InvokeRequest,
    RunDetail,
    RunList,
    RunResult,
    RunStatus,
)
from agentic_platform.agents.service import AgentService
from agentic_platform.auth.principal import Principal
from agentic_platform.dependencies import current_principal, platform
from agentic_platform.errors import ServiceUnavailableError
from agentic_platform.web.bodies import body_schema, json_response, parse_body
from agentic_platform.web.disconnect import ClientDisconnected, cancel_on_disconnect

router = APIRouter(prefix="/agents/v1", tags=["agents"])

MAX_OFFSET = 1_000_000_000
_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
INVOKE_EXAMPLE = {
    "message": "How many days of paid leave do I get?",
    "knowledge_base": "handbook",
    "metadata": {"channel": "web"},
}


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
    openapi_extra=body_schema(InvokeRequest, INVOKE_EXAMPLE),
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
        **body_schema(InvokeRequest, INVOKE_EXAMPLE),
        "responses": {
            "200": {
                "description": "Server-sent events: " + ", ".join(EVENT_TYPES) + ".",
                "content": {
                    "text/event-stream": {
                        "schema": {
                            "title": "AgentStreamEvent",
                            "description": "One event of the run.",
                            "type": "object",
                            "required": ["event", "data"],
                            "properties": {
                                "event": {"type": "string", "description": "The event's type."},
                                "data": {"type": "string", "description": "The event as JSON."},
                            },
                        },
                        "example": {
                            "event": "text_delta",
                            "data": '{"type":"text_delta","text":"Hello","step":null}',
                        },
                    }
                },
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


@router.get("/runs", response_model=RunList, summary="List runs, newest first.")
async def list_runs(
    caller: Caller,
    agents: Agents,
    agent: Annotated[str | None, Query(max_length=200, description="Only this agent's.")] = None,
    status: Annotated[RunStatus | None, Query(description="Only runs in this state.")] = None,
    session_id: Annotated[
        str | None, Query(max_length=200, description="Only this session's.")
    ] = None,
    user_id: Annotated[
        str | None, Query(max_length=200, description="Whose runs (admins only).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Page size.")] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Response:
    """Your runs; an admin sees everyone's unless ``user_id`` narrows it."""
    data, more = await agents.runs.list(
        caller,
        user_id=user_id,
        agent=agent,
        status=status,
        session_id=session_id,
        limit=limit,
        offset=offset,
    )
    return json_response(RunList(data=data, has_more=more))


@router.get("/runs/{run_id}", response_model=RunDetail, summary="One run with its steps.")
async def get_run(run_id: str, caller: Caller, agents: Agents) -> Response:
    return json_response(await agents.runs.get(caller, run_id))
