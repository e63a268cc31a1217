"""``POST /llm/v1/completions``: legacy text completions over every chat model, through the
same gateway, metering and disconnect handling as ``/chat/completions``."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from agentic_platform.dependencies import current_principal, llm_gateway, metering
from agentic_platform.errors import PlatformError, UnsupportedFeatureError
from agentic_platform.governance.metering import estimate_call
from agentic_platform.llm_gateway.completions import translate
from agentic_platform.llm_gateway.completions.schemas import Completion, CompletionRequest
from agentic_platform.web.bodies import body_schema, json_response, parse_body
from agentic_platform.web.disconnect import ClientDisconnected, cancel_on_disconnect
from agentic_platform.web.middleware import direct

router = APIRouter(prefix="/llm/v1", tags=["llm"])

_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

EXAMPLE = {"model": "smollm2-135m", "prompt": "The capital of France is", "max_tokens": 16}


@router.post(
    "/completions",
    response_model=Completion,
    openapi_extra=body_schema(CompletionRequest, EXAMPLE),
    summary="Complete a prompt (the legacy OpenAI completions API; prefer /chat/completions).",
)
@direct
async def completions(request: Request) -> Response:
    caller = await current_principal(request)
    gateway = await llm_gateway(request)
    meter = await metering(request)
    body = await parse_body(request, CompletionRequest)
    if body.model.startswith("agent:"):
        raise UnsupportedFeatureError(
            "Agents are served as models on /llm/v1/chat/completions, not on /completions.",
            param="model",
        )
    chats = [translate.to_chat(body, prompt) for prompt in body.prompts]
    entry = gateway.chat_entry(chats[0])
    output = (body.max_tokens or meter.default_output_reservation) * len(chats)
    estimate = estimate_call(entry, len(await request.body()), output)
    call = await meter.begin(caller, "completions", entry, chats[0], estimate, body.stream)
    try:
        if body.stream:
            chunks, deployment = await cancel_on_disconnect(
                request.receive, gateway.stream(chats[0])
            )
            events = translate.completion_events(
                entry.alias,
                call.watch(chunks, deployment),
                include_usage=bool(body.stream_options and body.stream_options.include_usage),
            )
            return StreamingResponse(
                events, media_type="text/event-stream", headers={**_SSE_HEADERS, **call.headers}
            )
        outcomes = await cancel_on_disconnect(
            request.receive, asyncio.gather(*(gateway.complete(chat) for chat in chats))
        )
    except ClientDisconnected:
        await call.abandon(499, "client_disconnected")
        return Response(status_code=499)
    except PlatformError as error:
        await call.failed(error)
        raise
    answers = [outcome.completion for outcome in outcomes]
    await call.succeed(translate.total_usage(answers), outcomes[0].deployment)
    return json_response(translate.from_chat(entry.alias, answers), headers=call.headers)
