"""Verify OIDC bearer tokens (Cognito first-class, any compliant provider) as an alternative
to platform API keys.

The order of checks is the security argument: the header's algorithm is held against the
allow-list before any key is looked up, so a token can never choose how it is verified (no
``none``, no HMAC keyed with a public key); the issuer is compared before the provider's key
set is consulted, so foreign tokens cost the provider nothing; only then are the signature
and the time claims checked (by PyJWT, with the key bound to one algorithm), followed by the
audience and Cognito's ``token_use``. Each failure is an :class:`AuthenticationError` naming
the check that failed, never echoing the token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
from jwt.exceptions import InvalidSubjectError

from agentic_platform.auth.jwks import JWKSCache
from agentic_platform.auth.keys import KEY_PREFIX
from agentic_platform.auth.oidc_settings import OIDCSettings, is_forbidden_algorithm
from agentic_platform.auth.principal import PrincipalKind, Role
from agentic_platform.errors import AuthenticationError, ConfigurationError

MAX_TOKEN_CHARS = 16 * 1024
_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")

# PyJWT's failures, most specific first (InvalidSignatureError is a DecodeError).
_FAILURES: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "token expired"),
    (jwt.ImmatureSignatureError, "token not yet valid"),
    (jwt.InvalidIssuerError, "token issuer not accepted"),
    (jwt.InvalidSignatureError, "token signature invalid"),
    (jwt.InvalidAlgorithmError, "token algorithm not allowed"),
    (jwt.InvalidIssuedAtError, "token issue time (iat) invalid"),
    (InvalidSubjectError, "token subject (sub) invalid"),
    (jwt.DecodeError, "token malformed"),
)
_MISSING_CLAIMS = {
    "exp": "token expiry (exp) missing",
    "iss": "token issuer not accepted",
    "sub": "token subject (sub) missing",
}


def looks_like_jwt(token: str) -> bool:
    """Whether a bearer credential should go to :class:`OIDCVerifier` rather than the API key
    store: three base64url segments (the last may be empty, so an unsigned token is refused
    by the verifier with a precise reason). Platform keys start with ``agp_`` and have no dots.
    """
    if token.startswith(KEY_PREFIX) or len(token) > MAX_TOKEN_CHARS:
        return False
    parts = token.split(".")
    return (
        len(parts) == 3
        and bool(parts[0])
        and bool(parts[1])
        and all(_SEGMENT.fullmatch(part) for part in parts)
    )


@dataclass(frozen=True, slots=True)
class ExternalIdentity:
    """Who a verified token says the caller is, in platform terms.

    Identify a caller by ``(issuer, subject)``, never by ``email``: the provider may let users
    set an unverified address (``email_verified`` says whether it vouches for it).
    """

    subject: str
    kind: PrincipalKind
    email: str | None
    name: str
    groups: frozenset[str]
    scopes: frozenset[str]
    team: str
    roles: frozenset[Role]
    issuer: str
    expires_at: datetime
    email_verified: bool = False


class OIDCVerifier:
    """Checks bearer JWTs from one provider. Create one per process (it caches the provider's
    keys); ``http`` belongs to the caller, who closes it at shutdown."""

    def __init__(self, settings: OIDCSettings, http: httpx.AsyncClient) -> None:
        issuer = settings.effective_issuer
        if issuer is None:
            raise ConfigurationError(
                "OIDC needs a provider: set AGENTIC_OIDC__ISSUER or "
                "AGENTIC_OIDC__COGNITO_USER_POOL_ID"
            )
        if not settings.audiences:
            raise ConfigurationError("OIDC needs AGENTIC_OIDC__AUDIENCES (your app client ids)")
        self._settings = settings
        self._issuer = issuer
        self._audiences = frozenset(settings.audiences)
        self._algorithms = frozenset(
            name for name in settings.algorithms if not is_forbidden_algorithm(name)
        )
        self._keys = JWKSCache(
            http,
            jwks_url=settings.effective_jwks_url,
            issuer=issuer,
            cache_seconds=settings.jwks_cache_seconds,
            min_refresh_seconds=settings.jwks_min_refresh_seconds,
            timeout_seconds=settings.http_timeout_seconds,
        )

    async def load_keys(self) -> None:
        """Fetch the provider's keys ahead of the first request (e.g. at start-up). A failure
        is logged, not raised: the first token will try again."""
        await self._keys.refresh()

    async def verify(self, token: str) -> ExternalIdentity:
        """The identity a valid token carries; :class:`AuthenticationError` otherwise."""
        header, unverified = _unverified_parts(token)
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self._algorithms:
            raise _failure("token algorithm not allowed")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise _failure("token key id (kid) missing")
        if unverified.get("iss") != self._issuer:
            raise _failure("token issuer not accepted")
        key = await self._keys.get(kid)
        if key is None:
            raise _failure("token signing key not found")
        jwk = key.for_algorithm(algorithm)
        if jwk is None:
            raise _failure("token algorithm does not match its key")
        claims = self._decode(token, jwk, algorithm)
        self._check_token_use(claims)
        self._check_audience(claims)
        return self._identity(claims)

    def _decode(self, token: str, jwk: jwt.PyJWK, algorithm: str) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                key=jwk,
                algorithms=[algorithm],
                issuer=self._issuer,
                leeway=self._settings.leeway_seconds,
                options={"require": ["exp", "iss", "sub"], "verify_aud": False},
            )
        except jwt.MissingRequiredClaimError as exc:
            raise _failure(_MISSING_CLAIMS.get(exc.claim, "token claim missing")) from None
        except jwt.PyJWTError as exc:
            message = next((text for kind, text in _FAILURES if isinstance(exc, kind)), None)
            raise _failure(message or "token invalid") from None

    def _check_token_use(self, claims: dict[str, Any]) -> None:
        use = claims.get("token_use")
        if use is None and not self._settings.is_cognito:
            return
        if use not in self._settings.token_use:
            raise _failure("token use not accepted")

    def _check_audience(self, claims: dict[str, Any]) -> None:
        audience = claims.get("aud")
        if audience is None and claims.get("token_use") == "access":
            audience = claims.get("client_id")  # Cognito access tokens carry no aud
        if not self._audiences.intersection(_strings(audience, split=False)):
            raise _failure("token audience not accepted")

    def _identity(self, claims: dict[str, Any]) -> ExternalIdentity:
        subject: str = claims["sub"]
        if not subject:
            raise _failure("token subject (sub) missing")
        try:
            expires_at = datetime.fromtimestamp(float(claims["exp"]), tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise _failure("token malformed") from None
        settings = self._settings
        kind = _kind(claims)
        groups = next(
            (
                _strings(claims[name], split=False)
                for name in settings.groups_claims
                if name in claims
            ),
            frozenset[str](),
        )
        email = claims.get("email") if isinstance(claims.get("email"), str) else None
        team = claims.get(settings.team_claim) if settings.team_claim else None
        return ExternalIdentity(
            subject=subject,
            kind=kind,
            email=email,
            name=_first_string(claims, "name", "username", "cognito:username", "email") or subject,
            groups=groups,
            scopes=_strings(
                claims["scope"] if "scope" in claims else claims.get("scp"), split=True
            ),
            team=team if isinstance(team, str) and team else settings.default_team,
            roles=_roles(kind, groups, settings.admin_groups),
            issuer=self._issuer,
            expires_at=expires_at,
            email_verified=claims.get("email_verified") in (True, "true"),
        )


def _unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims read without any check, only to decide how to verify."""
    if not looks_like_jwt(token):
        raise _failure("token malformed")
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise _failure("token malformed") from None
    return header, claims


def _kind(claims: dict[str, Any]) -> PrincipalKind:
    """Machine (client-credentials) tokens become service principals."""
    subject = claims["sub"]
    client_id = claims.get("client_id")
    use = claims.get("token_use")
    if use is not None:  # Cognito: machine tokens are access tokens without a user
        has_user = bool(claims.get("username") or claims.get("cognito:username"))
        machine = use == "access" and not has_user and subject == client_id
        return "service" if machine else "user"
    if claims.get("gty") == "client-credentials":
        return "service"
    if "email" not in claims and subject in (client_id, claims.get("azp")):
        return "service"
    return "user"


def _roles(kind: PrincipalKind, groups: frozenset[str], admin_groups: list[str]) -> frozenset[Role]:
    roles: set[Role] = set()
    if groups.intersection(admin_groups):
        roles.add("admin")
    if kind == "service":
        roles.add("service")
    return frozenset(roles or {"member"})


def _strings(value: object, *, split: bool) -> frozenset[str]:
    """A claim holding a list of strings or one string, as a set. Only scopes are ever
    space-separated: splitting a group named "not admin" would grant "admin"."""
    if isinstance(value, str):
        return frozenset(value.split() if split else [value])
    if isinstance(value, list):
        return frozenset(item for item in value if isinstance(item, str) and item)
    return frozenset()


def _first_string(claims: dict[str, Any], *names: str) -> str | None:
    for name in names:
        value = claims.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def _failure(message: str) -> AuthenticationError:
    return AuthenticationError(
        message, code="invalid_token", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
    )
