"""OIDC bearer tokens: real keys, a real identity provider on loopback, real PyJWT tokens.

The provider below publishes an OpenID configuration and a JWKS over HTTP and counts every
fetch, so the tests can tell when the verifier talks to it (key rotation, forged key ids,
an outage) as well as what it accepts.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from pydantic import ValidationError

from agentic_platform.auth.oidc import OIDCVerifier, looks_like_jwt
from agentic_platform.auth.oidc_settings import OIDCSettings
from agentic_platform.errors import AuthenticationError

CLIENT_ID = "app-client"
POOL_ID = "eu-west-1_TestPool1"
COGNITO_ISSUER = f"https://cognito-idp.eu-west-1.amazonaws.com/{POOL_ID}"

RSAKey = rsa.RSAPrivateKey
ECKey = ec.EllipticCurvePrivateKey
SigningKey = RSAKey | ECKey


@dataclass
class Keys:
    rsa: RSAKey
    ec: ECKey
    attacker: RSAKey
    rotated: RSAKey


@pytest.fixture(scope="session")
def keys() -> Keys:
    def new_rsa() -> rsa.RSAPrivateKey:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    return Keys(
        rsa=new_rsa(),
        ec=ec.generate_private_key(ec.SECP256R1()),
        attacker=new_rsa(),
        rotated=new_rsa(),
    )


def public_jwk(key: SigningKey, kid: str, alg: str | None) -> dict[str, Any]:
    if isinstance(key, rsa.RSAPrivateKey):
        data = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    else:
        data = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    data.update(kid=kid, use="sig")
    if alg is not None:
        data["alg"] = alg
    return data


@dataclass
class IdentityProvider:
    """A loopback OIDC provider whose published keys a test can change at any time."""

    url: str = ""
    keys: list[dict[str, Any]] = field(default_factory=list)
    jwks_fetches: int = 0
    discovery_fetches: int = 0
    down: bool = False

    @property
    def issuer(self) -> str:
        return self.url

    def publish(self, *jwks: dict[str, Any]) -> None:
        self.keys = list(jwks)

    async def discovery(self, request: web.Request) -> web.Response:
        self.discovery_fetches += 1
        return web.json_response({"issuer": self.issuer, "jwks_uri": f"{self.url}/jwks"})

    async def jwks(self, request: web.Request) -> web.Response:
        self.jwks_fetches += 1
        if self.down:
            return web.Response(status=503, text="maintenance")
        return web.json_response({"keys": self.keys})


@pytest.fixture
async def provider(keys: Keys) -> AsyncIterator[IdentityProvider]:
    idp = IdentityProvider()
    app = web.Application()
    app.router.add_get("/.well-known/openid-configuration", idp.discovery)
    app.router.add_get("/jwks", idp.jwks)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    idp.url = f"http://{host}:{port}"
    idp.publish(public_jwk(keys.rsa, "rsa-1", "RS256"), public_jwk(keys.ec, "ec-1", None))
    try:
        yield idp
    finally:
        await runner.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def generic_settings(provider: IdentityProvider, **overrides: Any) -> OIDCSettings:
    values: dict[str, Any] = {
        "enabled": True,
        "issuer": provider.issuer,
        "audiences": [CLIENT_ID],
        "team_claim": "team",
    }
    return OIDCSettings(**(values | overrides))


def cognito_settings(provider: IdentityProvider, **overrides: Any) -> OIDCSettings:
    values: dict[str, Any] = {
        "enabled": True,
        "cognito_user_pool_id": POOL_ID,
        "jwks_url": f"{provider.url}/jwks",  # Cognito's real URL is not reachable offline
        "audiences": [CLIENT_ID],
    }
    return OIDCSettings(**(values | overrides))


def mint(
    key: SigningKey, claims: dict[str, Any], *, kid: str | None = "rsa-1", alg: str = "RS256"
) -> str:
    now = int(time.time())
    body = {"iat": now, "exp": now + 300} | claims
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(body, key, algorithm=alg, headers=headers)


def user_claims(provider: IdentityProvider, **extra: Any) -> dict[str, Any]:
    return {"iss": provider.issuer, "aud": CLIENT_ID, "sub": "user-123"} | extra


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}.{b64(signature)}"


async def refused(verifier: OIDCVerifier, token: str) -> str:
    with pytest.raises(AuthenticationError) as caught:
        await verifier.verify(token)
    assert caught.value.status_code == 401
    assert token not in caught.value.message
    return caught.value.message


# --- accepted tokens ---------------------------------------------------------------------


async def test_user_token_maps_groups_to_admin_and_reads_team(
    provider: IdentityProvider, http: httpx.AsyncClient, keys: Keys
) -> None:
    verifier = OIDCVerifier(generic_settings(provider), http)
    claims = user_claims(
        provider,
        email="ada@example.com",
        name="Ada Lovelace",
        groups=["engineering", "admin"],
        team="research",
        scope="read write",
    )
    identity = await verifier.verify(mint(keys.rsa, claims))
    assert identity.subject == "user-123"
    assert identity.kind == "user"
    assert identity.roles == {"admin"}
    assert identity.groups == {"engineering", "admin"}
    assert identity.team == "research"
    assert identity.scopes == {"read", "write"}
    assert (identity.email, identity.name, identity.issuer) == (
        "ada@example.com",
        "Ada Lovelace",
        provider.issuer,
    )
    assert identity.expires_at.timestamp() == pytest.approx(time.time() + 300, abs=5)
    # keys were discovered once and are reused for the next token
    await verifier.verify(mint(keys.rsa, claims))
    assert (provider.discovery_fetches, provider.jwks_fetches) == (1, 1)


async def test_ec_token_without_groups_is_a_member_of_the_default_team(
    provider: IdentityProvider, http: httpx.AsyncClient, keys: Keys
) -> None:
    verifier = OIDCVerifier(generic_settings(provider, team_claim=None), http)
    token = mint(keys.ec, user_claims(provider, team="ignored"), kid="ec-1", alg="ES256")
    identity = await verifier.verify(token)
    assert identity.roles == {"member"}
    assert identity.team == "default"
    assert identity.name == "user-123"


async def test_cognito_access_token_is_matched_by_client_id(
    provider: IdentityProvider, http: httpx.AsyncClient, keys: Keys
) -> None:
    verifier = OIDCVerifier(cognito_settings(provider), http)
    claims = {
        "iss": COGNITO_ISSUER,
        "sub": "5f0c-user",
        "client_id": CLIENT_ID,
        "token_use": "access",
        "username": "alice",
        "cognito:groups": ["admin"],
        "scope": "openid profile",
    }
    identity = await verifier.verify(mint(keys.rsa, claims))
    assert (identity.kind, identity.name, identity.roles) == ("user", "alice", frozenset({"admin"}))
    assert identity.scopes == {"openid", "profile"}
    assert identity.issuer == COGNITO_ISSUER


async def test_cognito_id_token_is_matched_by_aud(
    provider: IdentityProvider, http: httpx.AsyncClient, keys: Keys
) -> None:
    verifier = OIDCVerifier(cognito_settings(provider), http)
    claims = {
        "iss": COGNITO_ISSUER,
        "sub": "5f0c-user",
        "aud": CLIENT_ID,
        "token_use": "id",
        "cognito:username": "bob",
        "email": "bob@example.com",
        "email_verified": True,
    }
    identity = await verifier.verify(mint(keys.rsa, claims))
    assert (identity.kind, identity.name, identity.roles) == ("user", "bob", frozenset({"member"}))
    assert identity.email_verified


async def test_cognito_client_credentials_token_is_a_service(
    provider: IdentityProvider, http: httpx.AsyncClient, keys: Keys
) -> None:
    verifier = OIDCVerifier(cognito_settings(provider), http)
    claims = {
        "iss": COGNITO_ISSUER,
        "sub": CLIENT_ID,
        "client_id": CLIENT_ID,
        "token_use": "access",
        "scope": "platform/invoke",
    }
    identity = await verifier.verify(mint(keys.rsa, claims))
    assert (identity.kind, identity.roles) == ("service", frozenset({"service"}))
    assert identity.scopes == {"platform/invoke"}


@pytest.mark.parametrize(
    "extra",
    [{"sub": "robot@clients", "gty": "client-credentials"}, {"sub": CLIENT_ID, "azp": CLIENT_ID}],
    ids=["gty", "sub-is-azp"],
)
async def test_generic_machine_token_is_a_service(
    provider: IdentityProvider, http: httpx.AsyncClient, keys: Keys, extra: dict[str, Any]
) -> None:
    verifier = OIDCVerifier(generic_settings(provider), http)
    identity = await verifier.verify(mint(keys.rsa, user_claims(provider, **extra)))
    assert (identity.kind, identity.roles) == ("service", frozenset({"service"}))


async def test_time_claims_within_leeway_are_accepted(
    provider: IdentityProvider, http: httpx.AsyncClient, keys: Keys
) -> None:
    verifier = OIDCVerifier(generic_settings(provider, leeway_seconds=30), http)
    now = int(time.time())
    claims = user_claims(provider, exp=now - 10, nbf=now + 10, iat=now + 10)
    assert (await verifier.verify(mint(keys.rsa, claims))).subject == "user-123"


# --- refused tokens ----------------------------------------------------------------------


async def test_signature_by_another_key_with_the_same_kid_is_refused(
    provider: IdentityProvider, http: httpx.AsyncClient, keys: Keys
) -> None:
    verifier = OIDCVerifier(generic_settings(provider), http)
    forged = mint(keys.attacker, user_claims(provider, groups=["admin"]))
    assert await refused(verifier, forged) == "token signature invalid"


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"aud": "someone-else"}, "token audience not accepted"),
        ({"aud": ["someone-else", "another"]}, "token audience not accepted"),
        ({"aud": None}, "token audience not accepted"),
        ({"exp": -120}, "token expired"),
        ({"exp": None}, "token expiry (exp) missing"),
        ({"nbf": 120}, "token not yet valid"),
        ({"sub": None}, "token subject (sub) missing"),
        ({"token_use": "refresh"}, "token use not accepted"),
    ],
    ids=["aud", "aud-list", "no-aud", "expired", "no-exp", "nbf", "no-sub", "token-use"],
)
async def test_claim_failures_name_the_check(
    provider: IdentityProvider,
    http: httpx.AsyncClient,
    keys: Keys,
    claims: dict[str, Any],
    reason: str,
) -> None:
    """Time claims in ``claims`` are offsets from now; ``None`` drops the claim."""
    verifier = OIDCVerifier(generic_settings(provider), http)
    now = int(time.time())
    body = user_claims(provider, iat=now, exp=now + 300)
    for name, value in claims.items():
        body[name] = now + value if name in ("exp", "nbf") and value is not None else value
    body = {name: value for name, value in body.items() if value is not None}
    token = jwt.encode(body, keys.rsa, algorithm="RS256", headers={"kid": "rsa-1"})
    assert await refused(verifier, token) == reason


async def test_foreign_issuer_is_refused_without_asking_the_provider(
    provider: IdentityProvider, http: httpx.AsyncClient, keys: Keys
) -> None:
    verifier = OIDCVerifier(generic_settings(provider), http)
    token = mint(keys.rsa, user_claims(provider, iss="https://evil.example"))
    assert await refused(verifier, token) == "token issuer not accepted"
    assert provider.jwks_fetches == 0


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"client_id": "someone-else"}, "token audience not accepted"),
        ({"token_use": None}, "token use not accepted"),
        ({"token_use": "id"}, "token use not accepted"),  # only access tokens configured below
    ],
    ids=["client-id", "no-token-use", "id-not-allowed"],
)
async def test_cognito_failures(
    provider: IdentityProvider,
    http: httpx.AsyncClient,
    keys: Keys,
    claims: dict[str, Any],
    reason: str,
) -> None:
    verifier = OIDCVerifier(cognito_settings(provider, token_use=["access"]), http)
    base = {"iss": COGNITO_ISSUER, "sub": "u", "client_id": CLIENT_ID, "token_use": "access"}
    body = {k: v for k, v in (base | claims).items() if v is not None}
    assert await refused(verifier, mint(keys.rsa, body)) == reason


async def test_unsigned_token_is_refused(
    provider: IdentityProvider, http: httpx.AsyncClient
) -> None:
    verifier = OIDCVerifier(generic_settings(provider), http)
    now = int(time.time())
    claims = user_claims(provider, exp=now + 300, groups=["admin"])
    for alg in ("none", "None", "NONE"):
        token = unsigned_token({"alg": alg, "typ": "JWT", "kid": "rsa-1"}, claims)
        assert looks_like_jwt(token)
        assert await refused(verifier, token) == "token algorithm not allowed"
    assert provider.jwks_fetches == 0


async def test_hmac_token_keyed_with_the_public_key_is_refused_before_any_key_lookup(
    provider: IdentityProvider, http: httpx.AsyncClient, keys: Keys
) -> None:
    """The classic confusion attack: sign HS256 with the provider's public PEM as secret."""
    verifier = OIDCVerifier(generic_settings(provider), http)
    pem = keys.rsa.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}
    claims = user_claims(provider, exp=int(time.time()) + 300, groups=["admin"])
    unsigned = unsigned_token(header, claims)
    signing_input = unsigned.rsplit(".", 1)[0].encode()
    token = f"{signing_input.decode()}.{b64(hmac.new(pem, signing_input, hashlib.sha256).digest())}"
    assert await refused(verifier, token) == "token algorithm not allowed"
    assert provider.jwks_fetches == 0


async def test_algorithm_outside_the_allow_list_or_unlike_the_key_is_refused(
    provider: IdentityProvider, http: httpx.AsyncClient, keys: Keys
) -> None:
    only_ec = OIDCVerifier(generic_settings(provider, algorithms=["ES256"]), http)
    assert await refused(only_ec, mint(keys.rsa, user_claims(provider))) == (
        "token algorithm not allowed"
    )
    # rsa-1 is published with "alg": "RS256": the same key may not verify PS256
    verifier = OIDCVerifier(generic_settings(provider), http)
    token = mint(keys.rsa, user_claims(provider), alg="PS256")
    assert await refused(verifier, token) == "token algorithm does not match its key"
    # ec-1 publishes no alg: its curve admits ES256 only
    token = mint(keys.rsa, user_claims(provider), kid="ec-1", alg="RS256")
    assert await refused(verifier, token) == "token algorithm does not match its key"


@pytest.mark.parametrize(
    "token",
    ["garbage", "a.b", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.!!!.sig", "agp_abc.def.ghi", "x" * 20000],
)
async def test_garbage_is_refused(
    provider: IdentityProvider, http: httpx.AsyncClient, token: str
) -> None:
    verifier = OIDCVerifier(generic_settings(provider), http)
    assert await refused(verifier, token) == "token malformed"


async def test_token_without_kid_is_refused(
    provider: IdentityProvider, http: httpx.AsyncClient, keys: Keys
) -> None:
    verifier = OIDCVerifier(generic_settings(provider), http)
    token = mint(keys.rsa, user_claims(provider), kid=None)
    assert await refused(verifier, token) == "token key id (kid) missing"


# --- the key set over time ---------------------------------------------------------------


async def test_rotated_key_is_picked_up_by_one_refetch(
    provider: IdentityProvider, http: httpx.AsyncClient, keys: Keys
) -> None:
    settings = generic_settings(provider, jwks_min_refresh_seconds=0.3)
    verifier = OIDCVerifier(settings, http)
    await verifier.verify(mint(keys.rsa, user_claims(provider)))
    assert provider.jwks_fetches == 1

    provider.publish(public_jwk(keys.rotated, "rsa-2", "RS256"))  # rsa-1 retired
    rotated = mint(keys.rotated, user_claims(provider), kid="rsa-2")
    # too soon after the last fetch: the unknown kid does not reach the provider
    assert await refused(verifier, rotated) == "token signing key not found"
    assert provider.jwks_fetches == 1

    await asyncio.sleep(0.35)
    assert (await verifier.verify(rotated)).subject == "user-123"
    assert provider.jwks_fetches == 2
    old = mint(keys.rsa, user_claims(provider))
    assert await refused(verifier, old) == "token signing key not found"
    assert provider.jwks_fetches == 2


async def test_forged_kids_cause_at_most_one_fetch_per_interval(
    provider: IdentityProvider, http: httpx.AsyncClient, keys: Keys
) -> None:
    verifier = OIDCVerifier(generic_settings(provider, jwks_min_refresh_seconds=0.3), http)
    await verifier.verify(mint(keys.rsa, user_claims(provider)))
    assert provider.jwks_fetches == 1

    async def flood() -> None:
        tokens = [mint(keys.attacker, user_claims(provider), kid=f"forged-{n}") for n in range(25)]
        results = await asyncio.gather(
            *(verifier.verify(token) for token in tokens), return_exceptions=True
        )
        assert all(isinstance(result, AuthenticationError) for result in results)
        for token in tokens[:5]:  # and again, one after another
            assert await refused(verifier, token) == "token signing key not found"

    await flood()
    assert provider.jwks_fetches == 1  # within the interval of the first fetch
    await asyncio.sleep(0.35)
    await flood()
    assert provider.jwks_fetches == 2  # 25 concurrent misses shared one fetch
    assert (await verifier.verify(mint(keys.rsa, user_claims(provider)))).kind == "user"


async def test_cached_keys_survive_a_provider_outage(
    provider: IdentityProvider, http: httpx.AsyncClient, keys: Keys
) -> None:
    settings = generic_settings(
        provider, jwks_cache_seconds=0.2, jwks_min_refresh_seconds=0.0, http_timeout_seconds=2
    )
    verifier = OIDCVerifier(settings, http)
    token = mint(keys.rsa, user_claims(provider))
    await verifier.verify(token)
    provider.down = True
    await asyncio.sleep(0.25)  # the cache is stale: the next token asks the provider again
    assert (await verifier.verify(token)).subject == "user-123"
    assert provider.jwks_fetches == 2  # the failed attempt, answered with the cached key


# --- settings and routing ----------------------------------------------------------------


@pytest.mark.parametrize("algorithms", [["none"], ["HS256"], ["RS256", "hs512"], []])
def test_settings_refuse_symmetric_and_unsigned_algorithms(algorithms: list[str]) -> None:
    with pytest.raises(ValidationError) as caught:
        OIDCSettings(algorithms=algorithms)
    assert "algorithm" in str(caught.value)


def test_settings_name_the_missing_provider_and_audience() -> None:
    with pytest.raises(ValidationError, match="AGENTIC_OIDC__ISSUER"):
        OIDCSettings(enabled=True, audiences=[CLIENT_ID])
    with pytest.raises(ValidationError, match="AGENTIC_OIDC__AUDIENCES"):
        OIDCSettings(enabled=True, issuer="https://idp.example")
    assert not OIDCSettings().enabled  # disabled needs nothing


def test_cognito_pool_sets_issuer_and_jwks_url() -> None:
    settings = OIDCSettings(enabled=True, cognito_user_pool_id=POOL_ID, audiences=[CLIENT_ID])
    assert settings.cognito_region == "eu-west-1"
    assert settings.effective_issuer == COGNITO_ISSUER
    assert settings.effective_jwks_url == f"{COGNITO_ISSUER}/.well-known/jwks.json"
    with pytest.raises(ValidationError, match="COGNITO_USER_POOL_ID"):
        OIDCSettings(cognito_user_pool_id="../../evil")


def test_looks_like_jwt_tells_tokens_from_api_keys(keys: Keys) -> None:
    assert looks_like_jwt(mint(keys.rsa, {"sub": "x"}))
    assert not looks_like_jwt("agp_" + "a" * 43)
    assert not looks_like_jwt("one.two")
    assert not looks_like_jwt("has space.in.it")
