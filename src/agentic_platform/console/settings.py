"""Settings of the web console (``settings.console``, ``AGENTIC_CONSOLE__*``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ConsoleSettings(BaseModel):
    oidc_client_id: str | None = Field(
        default=None,
        description="The OIDC app client (public, no secret) the console signs in with, by "
        "authorization code with PKCE. Default: the first of AGENTIC_OIDC__AUDIENCES. Used "
        "only when OIDC is enabled.",
    )
    oidc_scopes: str = Field(
        default="openid email profile",
        description="The scopes the console asks the OIDC provider for.",
    )
