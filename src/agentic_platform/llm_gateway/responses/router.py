"""``POST /llm/v1/responses``: the OpenAI Responses API over every provider in the catalog,
through the same gateway, metering and disconnect handling as ``/chat/completions``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from agentic_platform.dependencies import current_principal, llm_gateway, metering
from agentic_platform.errors import PlatformError, UnsupportedFeatureError
from agentic_platform.governance.metering import estimate_call
from agentic_platform.llm_gateway.responses import translate
from agentic_platform.llm_gateway.responses.schemas import ResponseObject, ResponseRequest
from agentic_platform.llm_gateway.responses.stream import response_events
from agentic_platform.web.bodies import body_schema, json_response, parse_body
from agentic_platform.web.disconnect import ClientDisconnected, cancel_on_disconnect
from agentic_platform.web.middleware import direct

router = APIRouter(prefix="/llm/v1", tags=["llm"])

_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

EXAMPLE = {
    "model": "smollm2-135m",
    "instructions": "Answer in one sentence.",
    "input": "What is the capital of France?",
    "max_output_tokens": 64,
}


@router.post(
    "/responses",
    response_model=ResponseObject,
    openapi_extra=body_schema(ResponseRequest, EXAMPLE),
    summary="Create a model response (OpenAI Responses API; stream with `stream: true`).",
)
@direct
async def create_response(request: Request) -> Response:
    caller = await current_principal(request)
    gateway = await llm_gateway(request)
    meter = await metering(request)
    body = await parse_body(request, ResponseRequest)
    if body.model.startswith("agent:"):
        raise UnsupportedFeatureError(
            "Agents are served as models on /llm/v1/chat/completions, not on /responses.",
            param="model",
        )
    chat = translate.to_chat(body)
    entry = gateway.chat_entry(chat)
    output = chat.output_limit or meter.default_output_reservation
    estimate = estimate_call(entry, len(await request.body()), output)
    call = await meter.begin(caller, "responses", entry, chat, estimate, streamed=chat.stream)
    try:
        if chat.stream:
            chunks, deployment = await cancel_on_disconnect(request.receive, gateway.stream(chat))
            shell = translate.response_shell(body, entry.alias)
            return StreamingResponse(
                response_events(shell, call.watch(chunks, deployment)),
                media_type="text/event-stream",
                headers={**_SSE_HEADERS, **call.headers},
            )
        outcome = await cancel_on_disconnect(request.receive, gateway.complete(chat))
    except ClientDisconnected:
        await call.abandon(499, "client_disconnected")
        return Response(status_code=499)
    except PlatformError as error:
        await call.failed(error)
        raise
    if call.span is not None:
        call.span.completion(outcome.completion)
    await call.succeed(outcome.completion.usage, outcome.deployment)
    return json_response(translate.from_chat(body, outcome.completion), headers=call.headers)
