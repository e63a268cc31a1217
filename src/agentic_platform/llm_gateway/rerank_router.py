"""``POST /llm/v1/rerank``: Cohere's rerank API (as LiteLLM and Jina speak it) on the gateway.

Authenticated, limited and metered like every model call: the usage ledger records the
tokens the reranker read (the query once per document, plus the documents) under the
caller, or under the user a platform service acts for.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from agentic_platform.dependencies import current_principal, llm_gateway, metering
from agentic_platform.errors import PlatformError
from agentic_platform.governance.metering import estimate_call
from agentic_platform.llm_gateway.rerank_schemas import RerankRequest, RerankResponse
from agentic_platform.llm_gateway.schemas import EmbeddingRequest, Usage
from agentic_platform.web.bodies import body_schema, json_response, parse_body
from agentic_platform.web.disconnect import ClientDisconnected, cancel_on_disconnect
from agentic_platform.web.middleware import direct

router = APIRouter(prefix="/llm/v1", tags=["llm"])

EXAMPLE = {
    "model": "rerank",
    "query": "How long is the warranty?",
    "documents": ["The warranty lasts two years.", "Shipping takes three days."],
    "top_n": 1,
    "return_documents": True,
}


def metered_request(body: RerankRequest) -> EmbeddingRequest:
    """The call as metering and tracing see it: an input-only call over the query and the
    documents (what a reranker reads), like an embeddings call."""
    return EmbeddingRequest(model=body.model, input=[body.query, *body.texts])


@router.post(
    "/rerank",
    response_model=RerankResponse,
    openapi_extra=body_schema(RerankRequest, EXAMPLE),
    summary="Order documents by relevance to a query (Cohere-compatible).",
)
@direct
async def rerank(request: Request) -> Response:
    caller = await current_principal(request)
    gateway = await llm_gateway(request)
    meter = await metering(request)
    body = await parse_body(request, RerankRequest)
    entry = gateway.catalog.get(body.model, "rerank")
    estimate = estimate_call(entry, len(await request.body()), 0)
    call = await meter.begin(
        caller, "rerank", entry, metered_request(body), estimate, streamed=False
    )
    try:
        outcome = await cancel_on_disconnect(request.receive, gateway.rerankers.rerank(body))
    except ClientDisconnected:
        await call.abandon(499, "client_disconnected")
        return Response(status_code=499)
    except PlatformError as error:
        await call.failed(error)
        raise
    await call.succeed(Usage.of(outcome.response.usage.prompt_tokens, 0), outcome.deployment)
    return json_response(outcome.response, headers=call.headers)
