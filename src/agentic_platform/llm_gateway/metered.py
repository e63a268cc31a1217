"""One metered chat call for the routes that speak another API over the chat path (the
Responses API, legacy completions): admitted, run with cancellation on disconnect, settled
on every ending, exactly as ``/chat/completions`` does, with the answer or the stream shaped
by the caller."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence

from fastapi import Request
from pydantic import BaseModel
from starlette.responses import Response, StreamingResponse

from agentic_platform.auth.principal import Principal
from agentic_platform.dependencies import llm_gateway, metering
from agentic_platform.errors import PlatformError, UnsupportedFeatureError
from agentic_platform.governance.metering import estimate_call
from agentic_platform.llm_gateway.schemas import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Usage,
)
from agentic_platform.llm_gateway.service import ChatOutcome, LLMGateway
from agentic_platform.web.bodies import json_response
from agentic_platform.web.disconnect import ClientDisconnected, cancel_on_disconnect

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

Events = Callable[[str, AsyncIterator[ChatCompletionChunk]], AsyncIterator[bytes]]
"""The stream as the route's API sends it, from the model's alias and the chunks."""
Answer = Callable[[str, list[ChatCompletion]], BaseModel]
"""The answer in the route's API, from the model's alias and one completion per request."""


def refuse_agents(model: str, route: str) -> None:
    if model.startswith("agent:"):
        raise UnsupportedFeatureError(
            f"Agents are served as models on /llm/v1/chat/completions, not on {route}.",
            param="model",
        )


def total_usage(completions: Sequence[ChatCompletion]) -> Usage:
    if len(completions) == 1:
        return completions[0].usage
    prompt = sum(completion.usage.prompt_tokens for completion in completions)
    output = sum(completion.usage.completion_tokens for completion in completions)
    return Usage.of(prompt, output)


async def _complete_all(
    gateway: LLMGateway, chats: list[ChatCompletionRequest]
) -> list[ChatOutcome]:
    if len(chats) == 1:
        return [await gateway.complete(chats[0])]
    return list(await asyncio.gather(*(gateway.complete(chat) for chat in chats)))


async def metered_chat(
    request: Request,
    caller: Principal,
    endpoint: str,
    chats: list[ChatCompletionRequest],
    events: Events,
    answer: Answer,
) -> Response:
    """Run ``chats`` (one, or several answered concurrently; a stream is always one) as one
    metered call recorded under ``endpoint``. The route authenticates ``caller`` before it
    reads the body: an anonymous caller gets a 401 whatever it sent."""
    gateway = await llm_gateway(request)
    meter = await metering(request)
    first = chats[0]
    entry = gateway.chat_entry(first)
    output = (first.output_limit or meter.default_output_reservation) * len(chats)
    estimate = estimate_call(entry, len(await request.body()), output)
    call = await meter.begin(caller, endpoint, entry, first, estimate, streamed=first.stream)
    try:
        if first.stream:
            chunks, deployment = await cancel_on_disconnect(request.receive, gateway.stream(first))
            return StreamingResponse(
                events(entry.alias, call.watch(chunks, deployment)),
                media_type="text/event-stream",
                headers={**SSE_HEADERS, **call.headers},
            )
        outcomes = await cancel_on_disconnect(request.receive, _complete_all(gateway, chats))
    except ClientDisconnected:
        await call.abandon(499, "client_disconnected")
        return Response(status_code=499)
    except PlatformError as error:
        await call.failed(error)
        raise
    completions = [outcome.completion for outcome in outcomes]
    if call.span is not None:
        call.span.completion(completions[0])
    await call.succeed(total_usage(completions), outcomes[0].deployment)
    return json_response(answer(entry.alias, completions), headers=call.headers)
