"""Reading a Messages body, with a 400 that names the real problem.

Anthropic's fields often take a string *or* a list of blocks. Pydantic reports a wrong block
as a failure of both forms ("Input should be a valid string"), which hides the block at
fault; here the string form's complaint is dropped when the list form has a more precise one,
and the union labels are left out of the field's path."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from agentic_platform.errors import InvalidRequestError
from agentic_platform.web.bodies import check_numbers
from agentic_platform.web.errors import validation_error

M = TypeVar("M", bound=BaseModel)


async def read_body(request: Request, model: type[M]) -> M:
    body = await request.body()
    if not body:
        raise InvalidRequestError("The request body is empty: send a JSON object.")
    try:
        parsed = model.model_validate_json(body)
    except ValidationError as exc:
        raise validation_error(precise_errors(exc)) from None
    check_numbers(body)
    return parsed


def precise_errors(exc: ValidationError) -> list[Any]:
    errors = [
        {**error, "loc": tuple(part for part in error["loc"] if not _is_label(part))}
        for error in exc.errors(include_url=False)
    ]
    deeper = [error for error in errors if not _wrong_form(error, errors)]
    return deeper or errors


def _is_label(part: int | str) -> bool:
    """A union member's label in an error path (``str``, ``list[...]``, ``TextBlock``...)."""
    return isinstance(part, str) and (part == "str" or "[" in part or part[:1].isupper())


def _wrong_form(error: dict[str, Any], errors: list[dict[str, Any]]) -> bool:
    """The string form's "not a string" when another error lies deeper in the same field."""
    if error["type"] != "string_type":
        return False
    where = error["loc"]
    return any(
        other["loc"][: len(where)] == where and len(other["loc"]) > len(where) for other in errors
    )
