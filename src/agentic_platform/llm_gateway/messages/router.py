"""HTTP routes of the Anthropic Messages API under ``/llm/v1``: ``POST /messages`` and
``POST /messages/count_tokens``.

A call runs exactly as a ``/chat/completions`` call does (the caller's key from
``x-api-key`` or ``Authorization: Bearer``, the same plans and limits, the same metering,
cancelled when the client leaves), on the canonical request :mod:`.translate` builds. Every
error is answered in Anthropic's format (:mod:`.errors`)."""

from __future__ import annotations

import fnmatch
import logging
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response, StreamingResponse

from agentic_platform.auth.principal import Principal
from agentic_platform.dependencies import current_principal, llm_gateway, metering
from agentic_platform.errors import PlatformError
from agentic_platform.governance.enforcement import ModelNotAllowedError
from agentic_platform.governance.metering import estimate_call
from agentic_platform.llm_gateway.messages import examples
from agentic_platform.llm_gateway.messages.errors import error_response
from agentic_platform.llm_gateway.messages.schemas import (
    AnthropicError,
    CountTokensRequest,
    MessageResponse,
    MessagesRequest,
    TokenCount,
)
from agentic_platform.llm_gateway.messages.stream import message_events
from agentic_platform.llm_gateway.messages.tokens import count_prompt_tokens
from agentic_platform.llm_gateway.messages.translate import to_chat_request, to_message
from agentic_platform.llm_gateway.messages.validation import read_body
from agentic_platform.llm_gateway.schemas import ChatCompletionRequest
from agentic_platform.web.bodies import body_schema, json_response
from agentic_platform.web.disconnect import ClientDisconnected, cancel_on_disconnect
from agentic_platform.web.errors import from_pydantic, unexpected_error
from agentic_platform.web.middleware import direct

logger = logging.getLogger("agentic_platform.http")

router = APIRouter(prefix="/llm/v1", tags=["llm"])

_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": AnthropicError, "description": about}
    for status, about in examples.ERROR_STATUSES.items()
}


@router.post(
    "/messages",
    response_model=MessageResponse,
    openapi_extra=body_schema(MessagesRequest, examples.MESSAGES),
    responses={200: examples.MESSAGE_ANSWERS, **_ERRORS},
    summary="Create a message (Anthropic Messages API; stream with `stream: true`).",
)
@direct
async def messages(request: Request) -> Response:
    try:
        return await _messages(request)
    except PlatformError as error:
        return error_response(error)
    except Exception as error:  # the Anthropic format even for a failure nothing handled
        logger.error("unhandled error", exc_info=error)
        return error_response(unexpected_error())


@router.post(
    "/messages/count_tokens",
    response_model=TokenCount,
    openapi_extra=body_schema(CountTokensRequest, examples.COUNT_TOKENS),
    responses=_ERRORS,
    summary="Count the input tokens of a Messages request (Anthropic Messages API).",
)
@direct
async def count_tokens(request: Request) -> Response:
    try:
        caller = await current_principal(request)
        gateway = await llm_gateway(request)
        body = _chat_request(await read_body(request, CountTokensRequest))
        gateway.catalog.get(body.model, "chat")  # an unknown model is a 404
        _check_key_allows(caller, body.model)
        return json_response(TokenCount(input_tokens=await count_prompt_tokens(gateway, body)))
    except PlatformError as error:
        return error_response(error)
    except Exception as error:
        logger.error("unhandled error", exc_info=error)
        return error_response(unexpected_error())


async def _messages(request: Request) -> Response:
    caller = await current_principal(request)
    gateway = await llm_gateway(request)
    meter = await metering(request)
    body = _chat_request(await read_body(request, MessagesRequest))
    entry = gateway.chat_entry(body)
    output = body.output_limit or meter.default_output_reservation
    estimate = estimate_call(entry, len(await request.body()), output)
    call = await meter.begin(caller, "messages", entry, body, estimate, streamed=body.stream)
    try:
        if body.stream:
            chunks, deployment = await cancel_on_disconnect(request.receive, gateway.stream(body))
            return StreamingResponse(
                message_events(call.watch(chunks, deployment)),
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
    await call.succeed(outcome.completion.usage, outcome.deployment)
    return json_response(to_message(outcome.completion), headers=call.headers)


def _chat_request(body: CountTokensRequest) -> ChatCompletionRequest:
    try:
        return to_chat_request(body)
    except ValidationError as exc:
        raise from_pydantic(exc) from None


def _check_key_allows(caller: Principal, model: str) -> None:
    """The key's model allowlist, as a call would check it (counting uses no model, so the
    plans' limits are not charged)."""
    patterns = caller.key_models
    if patterns is not None and not any(fnmatch.fnmatchcase(model, p) for p in patterns):
        raise ModelNotAllowedError(f"This API key may not use the model '{model}'.", param="model")
