"""JSON bodies in and out of the routers: one-pass validation and direct serialisation."""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request, Response
from pydantic import BaseModel, ValidationError

from agentic_platform.errors import InvalidRequestError
from agentic_platform.web.errors import from_pydantic

M = TypeVar("M", bound=BaseModel)


def body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI ``openapi_extra`` for a route that reads ``model`` itself (see
    :func:`parse_body`)."""
    schema = model.model_json_schema(by_alias=True)
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


async def parse_body(request: Request, model: type[M]) -> M:
    """Validate the raw body in one pass (pydantic's JSON parser), so malformed JSON and wrong
    types both get a 400 that names the field."""
    body = await request.body()
    if not body:
        raise InvalidRequestError("The request body is empty: send a JSON object.")
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise from_pydantic(exc) from None


def json_response(
    model: BaseModel, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        model.__pydantic_serializer__.to_json(model),
        status_code=status_code,
        media_type="application/json",
        headers=headers,
    )
