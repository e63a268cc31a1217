"""``GET /llm/v1/models/{model}``: one model the caller may use, or a 404 in the OpenAI
error format (for a model that does not exist and for one the caller's key or plan does
not allow alike, as OpenAI does)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from agentic_platform.dependencies import current_principal
from agentic_platform.errors import ModelNotFoundError
from agentic_platform.llm_gateway.listing.service import find_model
from agentic_platform.llm_gateway.schemas import ModelCard
from agentic_platform.web.bodies import json_response

router = APIRouter(prefix="/llm/v1", tags=["llm"])


@router.get(
    "/models/{model:path}",
    response_model=ModelCard,
    summary="Retrieve a model the caller may use.",
)
async def retrieve_model(request: Request, model: str) -> Response:
    caller = await current_principal(request)
    card = await find_model(request, caller, model)
    if card is None:
        raise ModelNotFoundError(
            f"The model '{model}' does not exist or this API key may not use it: "
            "GET /llm/v1/models lists the ones it may.",
            param="model",
        )
    return json_response(card)
