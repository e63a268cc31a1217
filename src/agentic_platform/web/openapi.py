"""The app's OpenAPI 3.1 document: what every route takes and answers, built once.

Routes declare only their success answers (and their body, see ``web/bodies.py``). This adds
what is common to all of them, from what the code does:

- The error answers, in the OpenAI error envelope (``web/errors.py``). Every route that
  needs a key can answer 400 (a bad field or parameter), 401 (no key, or an unknown one),
  403 (the key may not do this), 404 (an unknown id, model or principal), 500 and 503 (a
  service or backend that is not available). A route that writes (POST, PUT, PATCH, DELETE)
  can also answer 409; one that takes a body 413 (the body limit). A POST outside the admin
  API may call a model (chat, embeddings, the embeddings behind memory and retrieval), so it
  can answer 429 (a plan's limit, or the provider's), 502 and 504 as well. FastAPI's default
  422 is dropped: the platform never sends it (a validation error is a 400).
- The security schemes: a platform API key as ``Authorization: Bearer <key>`` or in the
  ``x-api-key`` header, and, when OIDC is on, the provider's JWT as a bearer token. Every
  route but the probes requires one of them.
- The body models of routes that read their body themselves, hoisted into
  ``components/schemas`` (``web/schema_components.py``) so every reference resolves.

The probes (``/healthz``, ``/readyz``) keep their own answers and need no key.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from agentic_platform.auth.oidc_settings import OIDCSettings
from agentic_platform.web.schema_components import hoist_definitions, name_after_domains

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
EVERY_ROUTE = (400, 401, 403, 404, 500, 503)
WRITES = {"post", "put", "patch", "delete"}
MODEL_CALLS = (429, 502, 504)
API_KEY_SCHEME = "ApiKey"
API_KEY_HEADER_SCHEME = "ApiKeyHeader"
OIDC_SCHEME = "OIDC"
_PUBLIC_TAGS = {"health"}
_NO_MODEL_CALLS = {"admin"}
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


def install_openapi(app: FastAPI, oidc: OIDCSettings | None = None) -> None:
    """Replace ``app.openapi`` with one that builds the full document once and keeps it."""

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
            hoist_definitions(document)
            name_after_domains(document)
            declare_errors(document)
            declare_security(document, oidc)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def error_statuses(method: str, operation: dict[str, Any]) -> list[int]:
    """The error statuses an operation can answer with (see the module docstring)."""
    statuses = list(EVERY_ROUTE)
    if method in WRITES:
        statuses.append(409)
    if "requestBody" in operation:
        statuses.append(413)
    if method == "post" and not _NO_MODEL_CALLS & set(operation.get("tags", ())):
        statuses.extend(MODEL_CALLS)
    return sorted(statuses)


def declare_errors(document: dict[str, Any]) -> None:
    """Add the error envelope answers to every operation of ``document``, in place."""
    reference = {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}
    for method, operation in _operations(document):
        if _is_public(operation):
            continue
        responses = operation.setdefault("responses", {})
        responses.pop("422", None)
        for status in error_statuses(method, operation):
            responses.setdefault(
                str(status),
                {
                    "description": ERROR_STATUSES[status],
                    "content": {"application/json": {"schema": reference}},
                },
            )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in _FASTAPI_VALIDATION:
        schemas.pop(name, None)
    schemas[ERROR_SCHEMA] = _ENVELOPE


def declare_security(document: dict[str, Any], oidc: OIDCSettings | None) -> None:
    """Declare how callers sign in, and require it on every route but the probes."""
    schemes: dict[str, Any] = {
        API_KEY_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "description": "A platform API key (`agp_...`): `Authorization: Bearer <key>`.",
        },
        API_KEY_HEADER_SCHEME: {
            "type": "apiKey",
            "in": "header",
            "name": "x-api-key",
            "description": "A platform API key in the `x-api-key` header (used when there is "
            "no `Authorization` header).",
        },
    }
    if oidc is not None and oidc.enabled:
        schemes[OIDC_SCHEME] = {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": f"A token of the OIDC provider {oidc.effective_issuer}, with one "
            "of the configured audiences: `Authorization: Bearer <JWT>`.",
        }
    document.setdefault("components", {})["securitySchemes"] = schemes
    requirements: list[dict[str, list[str]]] = [{name: []} for name in schemes]
    for _method, operation in _operations(document):
        if not _is_public(operation):
            operation.setdefault("security", requirements)


def _operations(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (method, operation)
        for path_item in document.get("paths", {}).values()
        for method, operation in path_item.items()
    ]


def _is_public(operation: dict[str, Any]) -> bool:
    return bool(_PUBLIC_TAGS & set(operation.get("tags", ())))
