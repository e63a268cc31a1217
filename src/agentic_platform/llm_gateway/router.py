"""HTTP routes of the OpenAI-compatible API under ``/llm/v1``.

The handlers take only the request and fetch the caller, the gateway and the metering
themselves (no FastAPI dependencies), so the request middleware can call them directly once
the router has routed to them (see :func:`agentic_platform.web.middleware.direct`): this is
the gateway's hot path, and FastAPI's dependency machinery cost more than the key check."""

from __future__ import annotations

from typing import TypeVar

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.responses import Response, StreamingResponse

from agentic_platform.dependencies import current_principal, llm_gateway, metering
from agentic_platform.errors import PlatformError
from agentic_platform.governance.metering import estimate_call
from agentic_platform.llm_gateway import examples
from agentic_platform.llm_gateway.listing.service import visible_models
from agentic_platform.llm_gateway.schemas import (
    ChatCompletion,
    ChatCompletionRequest,
    EmbeddingRequest,
    EmbeddingResponse,
    ModelList,
    Usage,
)
from agentic_platform.web.bodies import body_schema, json_response, parse_body
from agentic_platform.web.disconnect import ClientDisconnected, cancel_on_disconnect
from agentic_platform.web.middleware import direct
from agentic_platform.web.sse import chat_events

M = TypeVar("M", bound=BaseModel)

router = APIRouter(prefix="/llm/v1", tags=["llm"])

_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    openapi_extra=body_schema(ChatCompletionRequest, examples.CHAT),
    responses={200: examples.CHAT_ANSWERS},
    summary="Create a chat completion (OpenAI-compatible; stream with `stream: true`).",
)
@direct
async def chat_completions(request: Request) -> Response:
    caller = await current_principal(request)
    gateway = await llm_gateway(request)
    meter = await metering(request)
    body = await parse_body(request, ChatCompletionRequest)
    if body.model.startswith("agent:"):
        from agentic_platform.agents.as_model import agent_chat

        return await agent_chat(request, caller, body)
    entry = gateway.chat_entry(body)
    output = body.output_limit or meter.default_output_reservation
    estimate = estimate_call(entry, len(await request.body()), output)
    call = await meter.begin(caller, "chat", entry, body, estimate, streamed=body.stream)
    try:
        if body.stream:
            chunks, deployment = await cancel_on_disconnect(request.receive, gateway.stream(body))
            return StreamingResponse(
                chat_events(call.watch(chunks, deployment), include_usage=body.include_usage),
                media_type="text/event-stream",
                headers={**_SSE_HEADERS, **call.headers},
            )
        outcome = await cancel_on_disconnect(request.receive, gateway.complete(body))
    except ClientDisconnected:
        await call.abandon(499, "client_disconnected")
        return Response(status_code=499)
    except PlatformError as error:
        await call.failed(error)
        raise
    if call.span is not None:
        call.span.completion(outcome.completion)
    usage = outcome.completion.usage
    usage.cost = await call.succeed(usage, outcome.deployment)
    return json_response(outcome.completion, headers=call.answered_headers(usage.cost))


@router.post(
    "/embeddings",
    response_model=EmbeddingResponse,
    openapi_extra=body_schema(EmbeddingRequest, examples.EMBEDDINGS),
    summary="Embed a string or a list of strings (OpenAI-compatible).",
)
@direct
async def embeddings(request: Request) -> Response:
    caller = await current_principal(request)
    gateway = await llm_gateway(request)
    meter = await metering(request)
    body = await parse_body(request, EmbeddingRequest)
    entry = gateway.catalog.get(body.model, "embedding")
    estimate = estimate_call(entry, body.input_chars, 0)
    call = await meter.begin(caller, "embeddings", entry, body, estimate, streamed=False)
    try:
        outcome = await cancel_on_disconnect(request.receive, gateway.embed(body))
    except ClientDisconnected:
        await call.abandon(499, "client_disconnected")
        return Response(status_code=499)
    except PlatformError as error:
        await call.failed(error)
        raise
    tokens = outcome.response.usage.prompt_tokens
    cost = await call.succeed(Usage.of(tokens, 0), outcome.deployment)
    return json_response(outcome.response, headers=call.answered_headers(cost))


@router.get("/models", response_model=ModelList, summary="List the models the caller may use.")
@direct
async def models(request: Request) -> Response:
    caller = await current_principal(request)
    return json_response(await visible_models(request, caller))
