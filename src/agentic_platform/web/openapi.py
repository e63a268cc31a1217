"""The app's OpenAPI document, with the error answers every route can give declared once.

Routes declare only their success answers. Any of them can also answer with an error in the
OpenAI error envelope (``web/errors.py``): a bad field (400), a missing or refused key
(401/403), an unknown id (404), a conflict (409), an oversized body (413), a limit (429), or
a platform or upstream failure (5xx). This adds those to every operation, and drops the 422
FastAPI declares by default, which the platform never sends (a validation error is a 400).
The probes (``/healthz``, ``/readyz``) keep their own answers: they take no input.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_SCHEMA = "ErrorEnvelope"
ERROR_STATUSES: dict[int, str] = {
    400: "The request is not valid: the message says what to fix, `param` names the field.",
    401: "No API key, or one the platform does not know.",
    403: "The key may not do this.",
    404: "No such resource (or not the caller's).",
    409: "It conflicts with what exists.",
    413: "The body is larger than the platform's limit.",
    429: "A limit of the caller's plan is reached; `Retry-After` says when to try again.",
    500: "The platform failed; the request id (`X-Request-ID`) is in its log.",
    502: "A model provider failed.",
    503: "A service or backend this needs is not available.",
    504: "A model provider did not answer in time.",
}
_UNDECLARED_TAGS = {"health"}
_FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")

_ENVELOPE: dict[str, Any] = {
    "title": ERROR_SCHEMA,
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type"],
            "properties": {
                "message": {"type": "string", "description": "What went wrong, what to fix."},
                "type": {"type": "string", "description": "invalid_request_error, ..."},
                "param": {"type": ["string", "null"], "description": "The field at fault."},
                "code": {"type": ["string", "null"], "description": "A stable error code."},
            },
        }
    },
}


def install_openapi(app: FastAPI) -> None:
    """Replace ``app.openapi`` with one that declares the error answers (built once)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=app.routes,
                servers=app.servers,
            )
            declare_errors(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def declare_errors(document: dict[str, Any]) -> None:
    """Add the error envelope answers to every operation of ``document``, in place."""
    answers = {
        str(status): {
            "description": description,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}}
            },
        }
        for status, description in ERROR_STATUSES.items()
    }
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            if _UNDECLARED_TAGS & set(operation.get("tags", ())):
                continue
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            for status, answer in answers.items():
                responses.setdefault(status, answer)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in _FASTAPI_VALIDATION:
        schemas.pop(name, None)
    schemas[ERROR_SCHEMA] = _ENVELOPE
