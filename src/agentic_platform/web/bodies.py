"""JSON bodies in and out of the routers: one-pass validation and direct serialisation."""

from __future__ import annotations

import json
import math
from typing import Any, TypeVar

from fastapi import Request, Response
from pydantic import BaseModel, ValidationError

from agentic_platform.errors import InvalidRequestError
from agentic_platform.web.errors import from_pydantic

M = TypeVar("M", bound=BaseModel)

INT_RANGE = (-(2**63), 2**63 - 1)
"""The integers a body may hold: what every JSON library and upstream API can represent."""

# Every byte mapped to the shape it has in a number: digits to 0, exponents to e, signs to +.
_SHAPES = bytes(
    ord("0") if b in b"0123456789" else ord("e") if b in b"eE" else ord("+") if b in b"+-" else 32
    for b in range(256)
)


def body_schema(model: type[BaseModel], example: dict[str, Any] | None = None) -> dict[str, Any]:
    """OpenAPI ``openapi_extra`` for a route that reads ``model`` itself (see
    :func:`parse_body`), with an example body; the model's nested definitions are moved into
    the document's components when it is built (``web/schema_components.py``)."""
    media: dict[str, Any] = {"schema": model.model_json_schema(by_alias=True)}
    if example is not None:
        model.model_validate(example)  # an example that does not fit fails at import
        media["example"] = example
    return {"requestBody": {"required": True, "content": {"application/json": media}}}


async def parse_body(request: Request, model: type[M]) -> M:
    """Validate the raw body in one pass (pydantic's JSON parser), so malformed JSON and wrong
    types both get a 400 that names the field. A number no JSON library can carry on (an
    integer outside 64 bits, a decimal that overflows, ``NaN``/``Infinity``) is a 400 too,
    wherever it sits, even in a field the gateway only forwards."""
    body = await request.body()
    if not body:
        raise InvalidRequestError("The request body is empty: send a JSON object.")
    try:
        parsed = model.model_validate_json(body)
    except ValidationError as exc:
        raise from_pydantic(exc) from None
    check_numbers(body)  # after: a field with bounds of its own gets the error that names it
    return parsed


def check_numbers(body: bytes) -> None:
    """Refuse a body holding a number outside :data:`INT_RANGE` or not finite.

    A byte scan (about a microsecond for a chat request) looks for what such a number needs:
    19 digits in a row, a three-digit exponent, or the words NaN / Infinity. Only then is the
    body parsed to look at its numbers (text that merely looks so is let through)."""
    shapes = body.translate(_SHAPES)
    if not (
        b"0000000000000000000" in shapes
        or b"0e000" in shapes
        or b"0e+000" in shapes
        or b"NaN" in body
        or b"Infinity" in body
    ):
        return
    try:
        json.loads(body, parse_int=_integer, parse_float=_decimal, parse_constant=_constant)
    except _OutOfRange as refused:
        shown = refused.text if len(refused.text) <= 24 else refused.text[:20] + "..."
        raise InvalidRequestError(
            f"The request body holds the number {shown}, which cannot be used: integers must "
            f"lie between {INT_RANGE[0]} and {INT_RANGE[1]}, and numbers must be finite.",
            code="number_out_of_range",
        ) from None
    except ValueError:
        return  # what pydantic's parser accepts but this one does not: left to the fields


class _OutOfRange(Exception):
    def __init__(self, text: str) -> None:
        self.text = text


def _integer(text: str) -> int:
    if len(text) > 20 or not INT_RANGE[0] <= int(text) <= INT_RANGE[1]:
        raise _OutOfRange(text)
    return 0


def _decimal(text: str) -> float:
    if not math.isfinite(float(text)):
        raise _OutOfRange(text)
    return 0.0


def _constant(text: str) -> float:
    raise _OutOfRange(text)


def json_response(
    model: BaseModel, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        model.__pydantic_serializer__.to_json(model),
        status_code=status_code,
        media_type="application/json",
        headers=headers,
    )
