"""Errors of the Messages routes in Anthropic's format:
``{"type": "error", "error": {"type": ..., "message": ...}}``, with the platform's status
code and headers (``Retry-After``, the rate-limit headers) kept."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.responses import Response

from agentic_platform.errors import PlatformError

logger = logging.getLogger("agentic_platform.http")

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    409: "invalid_request_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
}


def error_type(status: int) -> str:
    return _TYPES.get(status, "invalid_request_error" if status < 500 else "api_error")


def error_body(error: PlatformError) -> dict[str, Any]:
    return {
        "type": "error",
        "error": {"type": error_type(error.status_code), "message": error.message},
    }


def error_response(error: PlatformError) -> Response:
    if error.status_code >= 500:
        logger.warning("request failed", extra={"error_type": error.error_type, "code": error.code})
    return Response(
        orjson.dumps(error_body(error)),
        status_code=error.status_code,
        media_type="application/json",
        headers=error.headers,
    )
