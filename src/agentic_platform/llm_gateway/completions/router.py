"""``POST /llm/v1/completions``: legacy text completions over every chat model, through the
same gateway, metering and disconnect handling as ``/chat/completions``."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from starlette.responses import Response

from agentic_platform.dependencies import current_principal
from agentic_platform.llm_gateway.completions import translate
from agentic_platform.llm_gateway.completions.schemas import Completion, CompletionRequest
from agentic_platform.llm_gateway.metered import metered_chat, refuse_agents
from agentic_platform.llm_gateway.schemas import ChatCompletionChunk
from agentic_platform.web.bodies import body_schema, parse_body
from agentic_platform.web.middleware import direct

router = APIRouter(prefix="/llm/v1", tags=["llm"])

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
    body = await parse_body(request, CompletionRequest)
    refuse_agents(body.model, "/completions")
    include_usage = bool(body.stream_options and body.stream_options.include_usage)

    def events(alias: str, chunks: AsyncIterator[ChatCompletionChunk]) -> AsyncIterator[bytes]:
        return translate.completion_events(alias, chunks, include_usage=include_usage)

    chats = [translate.to_chat(body, prompt) for prompt in body.prompts]
    return await metered_chat(request, caller, "completions", chats, events, translate.from_chat)
