"""Settings of the web console (``settings.console``, ``AGENTIC_CONSOLE__*``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

Origin = Annotated[str, Field(pattern=r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")]


class ConsoleSettings(BaseModel):
    oidc_client_id: str | None = Field(
        default=None,
        description="The OIDC app client (public, no secret) the console signs in with, by "
        "authorization code with PKCE. Default: the first of AGENTIC_OIDC__AUDIENCES. Used "
        "only when OIDC is enabled.",
    )
    oidc_token_origins: list[Origin] = Field(
        default_factory=list,
        description="Origins besides the issuer's that the page calls to sign in: the token "
        "endpoint's, when it lies elsewhere (Cognito's hosted UI domain, e.g. "
        "https://example.auth.eu-west-1.amazoncognito.com). They join the page's "
        "connect-src policy.",
    )
    oidc_scopes: str = Field(
        default="openid email profile",
        description="The scopes the console asks the OIDC provider for.",
    )
