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


_TAGS = {"text", "image", "tool_use", "tool_result", "thinking", "redacted_thinking"}
_SOURCES = {"base64", "url"}


def precise_errors(exc: ValidationError) -> list[Any]:
    errors = [{**error, "loc": _path(error["loc"])} for error in exc.errors(include_url=False)]
    neither = {e["loc"] for e in errors if e["type"] == "list_type"}
    errors = [
        {**error, "msg": "Input should be a string or a list of content blocks"}
        for error in errors
        if error["loc"] in neither and error["type"] != "list_type"
    ] or [error for error in errors if not _wrong_form(error, errors)]
    return errors


def _path(location: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """The field's path without union labels: ``str``, ``list[...]``, and a block's tag
    after its index (``content.0.tool_result.tool_use_id`` is ``content.0.tool_use_id``)."""
    kept: list[int | str] = []
    tag_dropped = False
    for part in location:
        if isinstance(part, str):
            if part == "str" or "[" in part:
                continue
            after = kept[-1] if kept else None
            tag = (isinstance(after, int) and part in _TAGS) or (
                after == "source" and part in _SOURCES
            )
            if tag and not tag_dropped:
                tag_dropped = True
                continue
        tag_dropped = False
        kept.append(part)
    return tuple(kept)


def _wrong_form(error: dict[str, Any], errors: list[dict[str, Any]]) -> bool:
    """The string form's "not a string" when another error lies deeper in the same field."""
    if error["type"] != "string_type":
        return False
    where = error["loc"]
    return any(
        other["loc"][: len(where)] == where and len(other["loc"]) > len(where) for other in errors
    )
