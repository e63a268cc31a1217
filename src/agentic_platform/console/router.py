"""``/console``: the console's page, its static modules and its public configuration.

Every answer carries a Content-Security-Policy that allows scripts, styles and connections
from this origin only (and the OIDC provider's, when sign-in by OIDC is on): the page has no
inline script, so an injected one never runs. Nothing here needs a credential: the page
signs in against the APIs it calls.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from agentic_platform.errors import NotFoundError
from agentic_platform.settings import Settings

router = APIRouter(prefix="/console", tags=["console"], include_in_schema=False)

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}


@cache
def _static() -> Traversable:
    return files("agentic_platform.console") / "static"


def content_security_policy(settings: Settings) -> str:
    connect = ["'self'"]
    if settings.oidc.enabled and settings.oidc.effective_issuer:
        issuer = urlsplit(settings.oidc.effective_issuer)
        connect.append(f"{issuer.scheme}://{issuer.netloc}")
        connect.extend(settings.console.oidc_token_origins)
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src {' '.join(connect)}",
            "form-action 'self'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ]
    )


def _headers(request: Request) -> dict[str, str]:
    settings: Settings = request.app.state.platform.settings
    return {
        "Content-Security-Policy": content_security_policy(settings),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }


def _file(path: str) -> tuple[bytes, str]:
    parts = path.split("/")
    suffix = "." + path.rsplit(".", 1)[-1] if "." in parts[-1] else ""
    if not path or suffix not in CONTENT_TYPES or any(p in ("", ".", "..") for p in parts):
        raise NotFoundError(f"the console has no file '{path}'")
    found = _static().joinpath(*parts)
    if not found.is_file():
        raise NotFoundError(f"the console has no file '{path}'")
    return found.read_bytes(), CONTENT_TYPES[suffix]


@router.get("")
async def console_root() -> RedirectResponse:
    return RedirectResponse("/console/", status_code=308)


@router.get("/")
async def console_page(request: Request) -> Response:
    body, kind = _file("index.html")
    return Response(body, media_type=kind, headers=_headers(request))


@router.get("/config.json")
async def console_config(request: Request) -> dict[str, Any]:
    """What the page needs before sign-in: whether (and where) it can sign in by OIDC."""
    settings: Settings = request.app.state.platform.settings
    oidc = settings.oidc
    client_id = settings.console.oidc_client_id or (oidc.audiences[0] if oidc.audiences else None)
    enabled = oidc.enabled and oidc.effective_issuer is not None and client_id is not None
    return {
        "oidc": {
            "enabled": enabled,
            "issuer": oidc.effective_issuer if enabled else None,
            "client_id": client_id if enabled else None,
            "scopes": settings.console.oidc_scopes,
        }
    }


@router.get("/{path:path}")
async def console_file(path: str, request: Request) -> Response:
    body, kind = _file(path)
    return Response(body, media_type=kind, headers=_headers(request))
