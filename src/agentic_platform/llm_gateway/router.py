"""HTTP routes of the OpenAI-compatible API under ``/llm/v1``."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ValidationError
from starlette.responses import Response, StreamingResponse

from agentic_platform.auth.principal import Principal
from agentic_platform.dependencies import current_principal, llm_gateway
from agentic_platform.errors import InvalidRequestError
from agentic_platform.llm_gateway.schemas import (
    ChatCompletion,
    ChatCompletionRequest,
    EmbeddingRequest,
    EmbeddingResponse,
    ModelList,
)
from agentic_platform.llm_gateway.service import LLMGateway
from agentic_platform.web.disconnect import ClientDisconnected, cancel_on_disconnect
from agentic_platform.web.errors import from_pydantic
from agentic_platform.web.sse import chat_events

M = TypeVar("M", bound=BaseModel)

router = APIRouter(prefix="/llm/v1", tags=["llm"])

Caller = Annotated[Principal, Depends(current_principal)]
Gateway = Annotated[LLMGateway, Depends(llm_gateway)]

_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _body_schema(model: type[BaseModel]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


async def _parse(request: Request, model: type[M]) -> M:
    """Validate the raw body in one pass (pydantic's JSON parser), so malformed JSON and wrong
    types both get a 400 that names the field."""
    body = await request.body()
    if not body:
        raise InvalidRequestError("The request body is empty: send a JSON object.")
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise from_pydantic(exc) from None


def _json(model: BaseModel) -> Response:
    return Response(model.__pydantic_serializer__.to_json(model), media_type="application/json")


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    openapi_extra=_body_schema(ChatCompletionRequest),
    summary="Create a chat completion (OpenAI-compatible; stream with `stream: true`).",
)
async def chat_completions(request: Request, _caller: Caller, gateway: Gateway) -> Response:
    body = await _parse(request, ChatCompletionRequest)
    try:
        if body.stream:
            chunks, _deployment = await cancel_on_disconnect(request.receive, gateway.stream(body))
            return StreamingResponse(
                chat_events(chunks, include_usage=body.include_usage),
                media_type="text/event-stream",
                headers=_SSE_HEADERS,
            )
        outcome = await cancel_on_disconnect(request.receive, gateway.complete(body))
    except ClientDisconnected:
        return Response(status_code=499)
    return _json(outcome.completion)


@router.post(
    "/embeddings",
    response_model=EmbeddingResponse,
    openapi_extra=_body_schema(EmbeddingRequest),
    summary="Embed a string or a list of strings (OpenAI-compatible).",
)
async def embeddings(request: Request, _caller: Caller, gateway: Gateway) -> Response:
    body = await _parse(request, EmbeddingRequest)
    try:
        result = await cancel_on_disconnect(request.receive, gateway.embed(body))
    except ClientDisconnected:
        return Response(status_code=499)
    return _json(result)


@router.get("/models", response_model=ModelList, summary="List the models in the catalog.")
async def models(_caller: Caller, gateway: Gateway) -> Response:
    return _json(gateway.models())
