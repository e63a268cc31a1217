"""``POST /llm/v1/responses``: the OpenAI Responses API over every provider in the catalog,
through the same gateway, metering and disconnect handling as ``/chat/completions``."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.responses import Response

from agentic_platform.dependencies import current_principal
from agentic_platform.llm_gateway.metered import metered_chat, refuse_agents
from agentic_platform.llm_gateway.responses import translate
from agentic_platform.llm_gateway.responses.schemas import ResponseObject, ResponseRequest
from agentic_platform.llm_gateway.responses.stream import response_events
from agentic_platform.llm_gateway.schemas import ChatCompletion, ChatCompletionChunk
from agentic_platform.web.bodies import body_schema, parse_body
from agentic_platform.web.middleware import direct

router = APIRouter(prefix="/llm/v1", tags=["llm"])

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
    body = await parse_body(request, ResponseRequest)
    refuse_agents(body.model, "/responses")
    chat = translate.to_chat(body)

    def events(alias: str, chunks: AsyncIterator[ChatCompletionChunk]) -> AsyncIterator[bytes]:
        return response_events(translate.response_shell(body, alias), chunks)

    def answer(_alias: str, completions: list[ChatCompletion]) -> BaseModel:
        return translate.from_chat(body, completions[0])

    return await metered_chat(request, caller, "responses", [chat], events, answer)
