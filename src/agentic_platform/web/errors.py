"""Maps every error to HTTP in one place, always in the OpenAI error envelope."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from agentic_platform.db.outage import is_outage
from agentic_platform.errors import DatabaseUnavailableError, InvalidRequestError, PlatformError

logger = logging.getLogger("agentic_platform.http")


def error_response(error: PlatformError) -> Response:
    return Response(
        orjson.dumps(error.to_body()),
        status_code=error.status_code,
        media_type="application/json",
        headers=error.headers,
    )


def validation_error(errors: list[Any], *, prefix: tuple[str, ...] = ()) -> InvalidRequestError:
    """A 400 that names the first offending field and says what is wrong with it."""
    if not errors:
        return InvalidRequestError("The request is not valid.")
    first = errors[0]
    if first.get("type") == "json_invalid":
        return InvalidRequestError(
            "The request body is not valid JSON: " + str(first.get("ctx", {}).get("error", "")),
            code="invalid_json",
        )
    location = [str(part) for part in first.get("loc", ())]
    if location and location[0] in prefix:
        location = location[1:]
    param = ".".join(location) or None
    message = first.get("msg", "invalid value")
    where = f"'{param}'" if param else "the request body"
    more = f" ({len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return InvalidRequestError(
        f"Invalid value for {where}: {message}{more}.", param=param, code="invalid_value"
    )


def from_pydantic(exc: ValidationError) -> InvalidRequestError:
    return validation_error(list(exc.errors(include_url=False)))


async def _platform_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PlatformError)
    if exc.status_code >= 500:
        logger.warning("request failed", extra={"error_type": exc.error_type, "code": exc.code})
    return error_response(exc)


async def _request_validation(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    where = ("body", "query", "path", "header")
    return error_response(validation_error(list(exc.errors()), prefix=where))


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 415: "unsupported_media_type"}


async def _http_exception(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    error = PlatformError(str(exc.detail), code=_HTTP_CODES.get(exc.status_code, "http_error"))
    error.status_code = exc.status_code
    error.error_type = "invalid_request_error" if exc.status_code < 500 else "server_error"
    return error_response(error)


def unexpected_error() -> PlatformError:
    """What a caller sees of an error nothing handled: a 500 without its text."""
    return PlatformError("The server failed to handle the request.")


async def _unexpected(_request: Request, exc: Exception) -> Response:
    logger.error("unhandled error", exc_info=exc)
    return error_response(unexpected_error())


async def _database_error(request: Request, exc: Exception) -> Response:
    """A connection lost mid-query is an outage (503, retry later); any other database error
    is a bug and answers like one."""
    if is_outage(exc):
        return await _platform_error(request, DatabaseUnavailableError())
    return await _unexpected(request, exc)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(PlatformError, _platform_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(Exception, _unexpected)
