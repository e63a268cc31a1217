"""HTTP routes of the memory gateway under ``/memory/v1`` (HTTP only: the logic is in
:mod:`.service`). Bodies are validated from the raw bytes in one pass, so malformed JSON and
wrong fields both get a 400 naming the field, before anything is written."""

from __future__ import annotations

from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from starlette.responses import Response

from agentic_platform.auth.principal import Principal
from agentic_platform.dependencies import current_principal, platform
from agentic_platform.errors import InvalidRequestError, ServiceUnavailableError
from agentic_platform.memory import examples, schemas
from agentic_platform.memory.service import MemoryGateway
from agentic_platform.telemetry.spans import memory_search_span
from agentic_platform.web.bodies import body_schema, json_response, parse_body

M = TypeVar("M", bound=BaseModel)

MAX_OFFSET = 1_000_000_000
"""Far past any real page, well inside every database's integer range."""
MAX_POSITION = 2**31 - 1
"""Turn positions are 32-bit integers in the database."""

router = APIRouter(prefix="/memory/v1", tags=["memory"])


async def memory_gateway(request: Request) -> MemoryGateway:
    gateway = platform(request).memory
    if gateway is None:
        raise ServiceUnavailableError("The memory gateway is not running in this process.")
    return gateway


Caller = Annotated[Principal, Depends(current_principal)]
Memory = Annotated[MemoryGateway, Depends(memory_gateway)]
Limit = Annotated[int, Query(ge=1, le=1000, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
UserId = Annotated[str | None, Query(description="Whose data (admins only).")]


# --- sessions ----------------------------------------------------------------------------


@router.post(
    "/sessions",
    status_code=201,
    response_model=schemas.SessionOut,
    openapi_extra=body_schema(schemas.SessionCreate, examples.SESSION),
)
async def create_session(request: Request, caller: Caller, memory: Memory) -> Response:
    """Start a conversation between the caller (or, for admins, ``user_id``) and an agent."""
    spec = await parse_body(request, schemas.SessionCreate)
    row = await memory.sessions.create(caller, spec)
    return json_response(schemas.SessionOut.model_validate(row), 201)


@router.get("/sessions", response_model=schemas.SessionList)
async def list_sessions(
    caller: Caller,
    memory: Memory,
    agent_id: str | None = None,
    user_id: UserId = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Response:
    """The caller's sessions, newest first."""
    rows, more = await memory.sessions.page(
        caller, user_id=user_id, agent_id=agent_id, limit=limit, offset=offset
    )
    data = [schemas.SessionOut.model_validate(row) for row in rows]
    return json_response(schemas.SessionList(data=data, has_more=more))


@router.get("/sessions/{session_id}", response_model=schemas.SessionOut)
async def get_session(session_id: str, caller: Caller, memory: Memory) -> Response:
    return json_response(
        schemas.SessionOut.model_validate(await memory.sessions.get(caller, session_id))
    )


@router.delete("/sessions/{session_id}", status_code=204)
async def delete_session(
    session_id: str,
    caller: Caller,
    memory: Memory,
    delete_memories: Annotated[
        bool, Query(description="Also delete the memories extracted from this session.")
    ] = False,
) -> Response:
    """Delete the session and its history. Long-term memories stay unless asked."""
    await memory.delete_session(caller, session_id, with_memories=delete_memories)
    return Response(status_code=204)


@router.post(
    "/sessions/{session_id}/messages",
    status_code=201,
    response_model=schemas.MessageOut,
    openapi_extra=body_schema(schemas.MessageCreate, examples.MESSAGE),
)
async def append_message(
    session_id: str, request: Request, caller: Caller, memory: Memory
) -> Response:
    """Append one turn. Indexing and memory extraction happen later, in the background."""
    message = await parse_body(request, schemas.MessageCreate)
    row = await memory.sessions.append(caller, session_id, message)
    return json_response(schemas.MessageOut.model_validate(row), 201)


@router.get("/sessions/{session_id}/messages", response_model=schemas.MessageList)
async def list_messages(
    session_id: str,
    caller: Caller,
    memory: Memory,
    limit: Limit = 100,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_POSITION, description="Turns after this position.")
    ] = None,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_POSITION, description="Turns before this position.")
    ] = None,
    last: Annotated[int | None, Query(ge=1, le=1000, description="The last N turns.")] = None,
) -> Response:
    """A page of the history, oldest first; or the last N turns."""
    if last is not None and (after is not None or before is not None):
        raise InvalidRequestError("Use 'last' alone, or 'after'/'before'.", param="last")
    rows, more = await memory.sessions.messages(
        caller, session_id, limit=limit, after=after, before=before, last=last
    )
    data = [schemas.MessageOut.model_validate(row) for row in rows]
    return json_response(schemas.MessageList(data=data, has_more=more))


@router.get("/sessions/{session_id}/extraction", response_model=schemas.ExtractionStatus)
async def extraction_status(session_id: str, caller: Caller, memory: Memory) -> Response:
    """How far indexing and memory extraction have got, and the last error, if any."""
    return json_response(await memory.extraction_status(caller, session_id))


# --- memories ----------------------------------------------------------------------------


@router.post(
    "/memories",
    status_code=201,
    response_model=schemas.MemoryOut,
    responses={200: {"model": schemas.MemoryOut, "description": "Already stored: that one."}},
    openapi_extra=body_schema(schemas.MemoryCreate, examples.MEMORY),
)
async def create_memory(request: Request, caller: Caller, memory: Memory) -> Response:
    """Remember something directly. An identical memory is not stored twice: the existing
    one comes back with status 200."""
    spec = await parse_body(request, schemas.MemoryCreate)
    found, created = await memory.create_memory(caller, spec)
    return json_response(found, 201 if created else 200)


@router.get("/memories", response_model=schemas.MemoryList)
async def list_memories(
    caller: Caller,
    memory: Memory,
    agent_id: str | None = None,
    type: schemas.MemoryType | None = None,
    session_id: str | None = None,
    user_id: UserId = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Response:
    """The caller's memories, most recently changed first."""
    found, more = await memory.memories.page(
        caller,
        user_id=user_id,
        agent_id=agent_id,
        type=type,
        session_id=session_id,
        limit=limit,
        offset=offset,
    )
    owner = found[0].row.owner_id if found else caller.id
    return json_response(schemas.MemoryList(data=await memory.present(owner, found), has_more=more))


@router.post(
    "/memories/search",
    response_model=schemas.SearchResponse,
    openapi_extra=body_schema(schemas.SearchRequest, examples.SEARCH),
)
async def search_memories(request: Request, caller: Caller, memory: Memory) -> Response:
    """Hybrid (lexical + vector) search over the caller's memories and turns; every result
    carries the turns it came from."""
    query = await parse_body(request, schemas.SearchRequest)
    top_k = query.top_k or memory.settings.search_top_k
    owner = query.user_id or caller.id
    with memory_search_span(platform(request), owner, query.mode, top_k) as span:
        found = await memory.search(caller, query)
        span.set_attribute("agentic.memory.results", len(found.data))
    return json_response(found)


@router.get("/memories/{memory_id}", response_model=schemas.MemoryOut)
async def get_memory(memory_id: str, caller: Caller, memory: Memory) -> Response:
    found = await memory.memories.get(caller, memory_id)
    return json_response((await memory.present(found.row.owner_id, [found]))[0])


@router.patch(
    "/memories/{memory_id}",
    response_model=schemas.MemoryOut,
    openapi_extra=body_schema(schemas.MemoryUpdate, examples.MEMORY_UPDATE),
)
async def update_memory(
    memory_id: str, request: Request, caller: Caller, memory: Memory
) -> Response:
    change = await parse_body(request, schemas.MemoryUpdate)
    return json_response(await memory.update_memory(caller, memory_id, change))


@router.delete("/memories/{memory_id}", status_code=204)
async def delete_memory(memory_id: str, caller: Caller, memory: Memory) -> Response:
    await memory.delete_memory(caller, memory_id)
    return Response(status_code=204)
