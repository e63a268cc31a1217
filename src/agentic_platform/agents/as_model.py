"""Every agent and workflow as a model of the OpenAI-compatible API: ``agent:<name>``.

``POST /llm/v1/chat/completions`` with ``model: "agent:diy-agent"`` runs the agent through
the agent API, as the caller, on the request's last user message, and answers in the chat
completions format (streamed too: text deltas become content chunks, ``include_usage`` gives
the run's usage). A conversation continues with ``session_id`` (an extra body field, e.g.
``extra_body`` in the OpenAI SDK); every answer carries the run's ``session_id`` and
``run_id`` as extra fields. Earlier messages in ``messages`` are not replayed: the agent's
session holds its history. The gateway checks only the model's prefix to come here, so its
own hot path is unchanged; the agent's own model calls are metered as usual.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

import httpx
import orjson
from fastapi import Request
from starlette.responses import Response, StreamingResponse

from agentic_platform.agents.context import check_key_allows
from agentic_platform.agents.events import AgentEvent, RunError, RunFinished, RunStarted
from agentic_platform.auth.principal import Principal
from agentic_platform.clients.agents import AgentsClient, agents_client_for
from agentic_platform.dependencies import platform
from agentic_platform.errors import InvalidRequestError, PlatformError
from agentic_platform.llm_gateway.schemas import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChunkChoice,
    Delta,
    FinishReason,
    ModelCard,
    ResponseMessage,
    Usage,
    UserMessage,
    new_completion_id,
)
from agentic_platform.state import PlatformState
from agentic_platform.web.bodies import json_response
from agentic_platform.web.sse import DONE, event

AGENT_MODEL_PREFIX = "agent:"
LISTED_SECONDS = 30.0
"""How long the list of agents served by another process is reused."""

logger = logging.getLogger("agentic_platform.agents")
_listed: dict[str, tuple[float, list[str]]] = {}


async def agent_model_cards(request: Request, caller: Principal) -> list[ModelCard]:
    """The ``agent:<name>`` models: the agents running in this process or, when the agents
    service runs elsewhere (``service_urls``), the ones it lists."""
    state = platform(request)
    if state.agents is not None:
        names = [agent.name for agent in state.agents.registry]
    elif "agents" in state.settings.service_urls:
        names = await _listed_elsewhere(state, caller)
    else:
        return []
    return [ModelCard(id=f"{AGENT_MODEL_PREFIX}{name}", owned_by="agents") for name in names]


async def _listed_elsewhere(state: PlatformState, caller: Principal) -> list[str]:
    """The agent names the agents service lists, asked at most every ``LISTED_SECONDS``; while
    it cannot be asked, the last answer (or none), so the model list itself never fails."""
    url = state.settings.service_urls["agents"]
    now = time.monotonic()
    asked, names = _listed.get(url, (-LISTED_SECONDS, []))
    if now - asked < LISTED_SECONDS:
        return names
    try:
        async with agents_client_for(state, caller) as client:
            names = [card.name for card in (await client.agents()).data]
    except (httpx.HTTPError, PlatformError) as error:
        logger.warning("the agents service at %s did not list its agents: %s", url, error)
    _listed[url] = (now, names)
    return names


def _invocation(body: ChatCompletionRequest) -> dict[str, object]:
    users = [m for m in body.messages if isinstance(m, UserMessage)]
    if not users:
        raise InvalidRequestError(
            "An agent model needs a user message in 'messages'.", param="messages"
        )
    content = users[-1].content
    message = content if isinstance(content, str) else [p.model_dump() for p in content]
    extra = body.model_extra or {}
    invocation: dict[str, object] = {"message": message}
    for field in ("session_id", "knowledge_base", "knowledge_bases", "metadata"):
        if extra.get(field) is not None:
            invocation[field] = extra[field]
    return invocation


async def agent_chat(request: Request, caller: Principal, body: ChatCompletionRequest) -> Response:
    """Answer a chat completion whose model is ``agent:<name>``."""
    name = body.model[len(AGENT_MODEL_PREFIX) :]
    check_key_allows(caller, body.model)
    invocation = _invocation(body)
    client = agents_client_for(platform(request), caller)
    if not body.stream:
        async with client:
            result = await client.invoke(name, **invocation)  # type: ignore[arg-type]
        completion = ChatCompletion(
            model=body.model,
            choices=[Choice(message=ResponseMessage(content=result.output))],
            usage=Usage.of(result.usage.prompt_tokens, result.usage.completion_tokens),
            session_id=result.session_id,
            run_id=result.run_id,
        )
        return json_response(completion)
    events = client.stream(name, **invocation)  # type: ignore[arg-type]
    try:
        first = await anext(events)
    except BaseException:
        await client.aclose()
        raise
    chunks = _chunks(client, events, first, body.model, include_usage=body.include_usage)
    return StreamingResponse(
        chunks,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _chunks(
    client: AgentsClient,
    events: AsyncIterator[AgentEvent],
    first: AgentEvent,
    model: str,
    *,
    include_usage: bool,
) -> AsyncIterator[bytes]:
    chunk_id = new_completion_id()
    extra = (
        {"run_id": first.run_id, "session_id": first.session_id}
        if isinstance(first, RunStarted)
        else {}
    )

    def chunk(delta: Delta, finish: FinishReason | None = None) -> bytes:
        piece = ChatCompletionChunk(
            id=chunk_id,
            model=model,
            choices=[ChunkChoice(delta=delta, finish_reason=finish)],
            **extra,
        )
        return event(piece.__pydantic_serializer__.to_json(piece))

    try:
        yield chunk(Delta(role="assistant", content=""))
        async for found in events:
            if found.type == "text_delta":
                yield chunk(Delta(content=found.text))
            elif isinstance(found, RunError):
                failure = PlatformError(found.message, code=found.code)
                yield event(orjson.dumps(failure.to_body()))
                return
            elif isinstance(found, RunFinished):
                yield chunk(Delta(), "stop")
                if include_usage:
                    usage = Usage.of(found.usage.prompt_tokens, found.usage.completion_tokens)
                    last = ChatCompletionChunk(id=chunk_id, model=model, usage=usage, **extra)
                    yield event(last.__pydantic_serializer__.to_json(last))
                yield DONE
                return
    finally:
        await events.aclose()  # type: ignore[attr-defined]
        await client.aclose()
