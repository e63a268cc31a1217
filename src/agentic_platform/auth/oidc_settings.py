"""Settings for signing in with OIDC bearer tokens (``settings.oidc``, ``AGENTIC_OIDC__*``).

Any OIDC provider works given its issuer; Amazon Cognito is configured by its user pool alone.
The validators refuse configurations that would make token checks meaningless: symmetric or
``none`` algorithms (a public JWKS key must never be usable as an HMAC secret), and an enabled
verifier without an issuer or without accepted audiences (every client of a shared issuer
could otherwise sign in).
"""

from __future__ import annotations

import re
from typing import Literal

from jwt.algorithms import get_default_algorithms
from pydantic import BaseModel, Field, field_validator, model_validator

TokenUse = Literal["access", "id"]

ASYMMETRIC_ALGORITHMS = [
    "RS256",
    "RS384",
    "RS512",
    "ES256",
    "ES384",
    "ES512",
    "PS256",
    "PS384",
    "PS512",
    "EdDSA",
]

_BOTH_TOKEN_USES: list[TokenUse] = ["access", "id"]
_COGNITO_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_COGNITO_POOL_ID = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+_[0-9A-Za-z]+$")


def is_forbidden_algorithm(name: str) -> bool:
    """``none`` and HMAC algorithms: with a public key set, either lets anyone mint tokens."""
    return name.lower() == "none" or name.upper().startswith("HS")


class OIDCSettings(BaseModel):
    enabled: bool = Field(
        default=False,
        description="Accept 'Authorization: Bearer <JWT>' from the OIDC provider below, "
        "besides platform API keys.",
    )
    issuer: str | None = Field(
        default=None,
        description="The provider's issuer URL, matched exactly against the token's 'iss' "
        "(mind a trailing slash). Not needed when the Cognito pool is set.",
    )
    audiences: list[str] = Field(
        default_factory=list,
        description="Accepted 'aud' values (your app client ids). Cognito access tokens carry "
        "no 'aud'; their 'client_id' is matched against this list instead. Required when "
        'enabled. From the environment, a JSON list: \'["id1","id2"]\'.',
    )
    jwks_url: str | None = Field(
        default=None,
        description="Where the provider publishes its signing keys; when unset, found through "
        "{issuer}/.well-known/openid-configuration (or the Cognito pool's jwks.json).",
    )
    cognito_region: str | None = Field(
        default=None,
        description="AWS region of the Cognito user pool (e.g. eu-west-1); defaults to the "
        "region prefix of the pool id.",
    )
    cognito_user_pool_id: str | None = Field(
        default=None,
        description="Cognito user pool id (e.g. eu-west-1_AbC123): sets the issuer and JWKS "
        "URL, and requires Cognito's 'token_use' claim.",
    )
    token_use: list[TokenUse] = Field(
        default_factory=lambda: list(_BOTH_TOKEN_USES),
        description="Accepted values of Cognito's 'token_use' claim (checked when present, "
        "and always required with a Cognito pool).",
    )
    algorithms: list[str] = Field(
        default_factory=lambda: list(ASYMMETRIC_ALGORITHMS),
        description="Signature algorithms accepted in a token header. 'none' and HS* are "
        "refused: the keys are public.",
    )
    leeway_seconds: float = Field(
        default=30, ge=0, le=600, description="Clock skew allowed on 'exp', 'nbf' and 'iat'."
    )
    jwks_cache_seconds: float = Field(
        default=3600, gt=0, description="How long fetched signing keys are used before a refetch."
    )
    jwks_min_refresh_seconds: float = Field(
        default=10,
        ge=0,
        description="Shortest time between two key fetches: an unknown 'kid' triggers at most "
        "one refetch per interval, so forged key ids cannot flood the provider.",
    )
    groups_claims: list[str] = Field(
        default_factory=lambda: ["cognito:groups", "groups"],
        description="Claims holding the user's groups; the first present one is used.",
    )
    admin_groups: list[str] = Field(
        default_factory=lambda: ["admin"],
        description="Members of any of these groups get the admin role.",
    )
    team_claim: str | None = Field(
        default=None,
        description="Claim holding the caller's team name; when unset or absent from a token, "
        "default_team is used.",
    )
    default_team: str = Field(
        default="default", min_length=1, description="Team of callers whose token names none."
    )
    http_timeout_seconds: float = Field(
        default=5, gt=0, le=60, description="Timeout of each request to the provider."
    )

    @field_validator("algorithms")
    @classmethod
    def _asymmetric_only(cls, algorithms: list[str]) -> list[str]:
        if not algorithms:
            raise ValueError("list at least one signature algorithm, e.g. RS256")
        forbidden = [name for name in algorithms if is_forbidden_algorithm(name)]
        if forbidden:
            raise ValueError(
                f"{', '.join(forbidden)} refused: 'none' and HMAC (HS*) algorithms would let "
                "anyone holding the provider's public keys mint tokens; use RS*, PS*, ES* or EdDSA"
            )
        known = get_default_algorithms()
        unknown = [name for name in algorithms if name not in known]
        if unknown:
            raise ValueError(f"unknown signature algorithm(s): {', '.join(unknown)}")
        return algorithms

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> OIDCSettings:
        self._check_cognito()
        if not self.enabled:
            return self
        if self.issuer is None and self.cognito_user_pool_id is None:
            raise ValueError(
                "OIDC is enabled but no provider is named: set AGENTIC_OIDC__ISSUER, or "
                "AGENTIC_OIDC__COGNITO_USER_POOL_ID for Cognito"
            )
        if not self.audiences:
            raise ValueError(
                "OIDC is enabled but AGENTIC_OIDC__AUDIENCES is empty: list the app client "
                "ids whose tokens are accepted"
            )
        return self

    def _check_cognito(self) -> None:
        pool = self.cognito_user_pool_id
        if pool is None:
            if self.cognito_region is not None:
                raise ValueError(
                    "AGENTIC_OIDC__COGNITO_REGION is set without AGENTIC_OIDC__COGNITO_USER_POOL_ID"
                )
            return
        if not _COGNITO_POOL_ID.match(pool):
            raise ValueError(
                "AGENTIC_OIDC__COGNITO_USER_POOL_ID must look like <region>_<id>, "
                "e.g. eu-west-1_AbC123"
            )
        if self.cognito_region is None:
            self.cognito_region = pool.split("_", 1)[0]
        elif not _COGNITO_REGION.match(self.cognito_region):
            raise ValueError("AGENTIC_OIDC__COGNITO_REGION must be an AWS region, e.g. eu-west-1")
        if self.issuer is not None and self.issuer != self.cognito_issuer:
            raise ValueError(
                "AGENTIC_OIDC__ISSUER disagrees with the Cognito pool; set only one of them"
            )

    @property
    def is_cognito(self) -> bool:
        return self.cognito_user_pool_id is not None

    @property
    def cognito_issuer(self) -> str | None:
        if self.cognito_user_pool_id is None:
            return None
        return (
            f"https://cognito-idp.{self.cognito_region}.amazonaws.com/{self.cognito_user_pool_id}"
        )

    @property
    def effective_issuer(self) -> str | None:
        """The issuer tokens must name: the configured one, else the Cognito pool's."""
        return self.issuer or self.cognito_issuer

    @property
    def effective_jwks_url(self) -> str | None:
        """The configured JWKS URL, else Cognito's fixed one; ``None`` means discover it."""
        if self.jwks_url is not None:
            return self.jwks_url
        if self.is_cognito:
            return f"{self.cognito_issuer}/.well-known/jwks.json"
        return None
