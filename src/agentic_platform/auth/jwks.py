"""An OIDC provider's signing keys (its JWKS), fetched and cached by key id.

Keys are refetched when the cache ages out or a token names an unknown ``kid`` (the provider
rotated its keys), but never more often than once per ``min_refresh_seconds``: every token
an attacker invents with a fresh ``kid`` would otherwise cost the provider a request.
Concurrent callers that miss share one fetch, and when the provider is unreachable the keys
already held stay in use, so an outage of the identity provider does not sign everyone out.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from agentic_platform.auth.oidc_settings import is_forbidden_algorithm
from agentic_platform.errors import ConfigurationError

logger = logging.getLogger("agentic_platform.auth")

# Algorithms a key may serve when its JWK does not pin one with "alg". Symmetric ("oct")
# keys are never listed: a JWKS is public, so an HMAC key in it would be a shared secret.
_RSA_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
_EC_ALGORITHMS = {"P-256": ("ES256",), "P-384": ("ES384",), "P-521": ("ES512",)}
_OKP_ALGORITHMS = {"Ed25519": ("EdDSA",), "Ed448": ("EdDSA",)}


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One published key, ready to verify with each algorithm its JWK allows.

    A JWK that names its ``alg`` serves that algorithm only; one that does not serves the
    algorithms of its key type (and curve). Asking for any other algorithm gives ``None``,
    which is how a token whose header disagrees with its key is refused.
    """

    kid: str
    key_type: str
    by_algorithm: Mapping[str, jwt.PyJWK]

    def for_algorithm(self, algorithm: str) -> jwt.PyJWK | None:
        return self.by_algorithm.get(algorithm)


class JWKSFetchError(Exception):
    """The provider's keys could not be fetched; the cache keeps the keys it has."""


class JWKSCache:
    """Signing keys of one provider, from ``jwks_url`` or discovered from ``issuer``.

    ``http`` belongs to the caller, who closes it; the cache only sends requests with it.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        jwks_url: str | None = None,
        issuer: str | None = None,
        cache_seconds: float = 3600.0,
        min_refresh_seconds: float = 10.0,
        timeout_seconds: float = 5.0,
    ) -> None:
        if jwks_url is None and issuer is None:
            raise ConfigurationError("a JWKS cache needs a JWKS URL or an issuer to discover")
        self._http = http
        self._jwks_url = jwks_url
        self._issuer = issuer
        self._discovered_url: str | None = None
        self._cache_seconds = cache_seconds
        self._min_refresh_seconds = min_refresh_seconds
        self._timeout = timeout_seconds
        self._keys: dict[str, SigningKey] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = asyncio.Lock()

    async def get(self, kid: str) -> SigningKey | None:
        """The key named ``kid``, refetching the set first if it is stale or lacks ``kid``
        (subject to the refresh interval); ``None`` if the provider does not publish it."""
        if kid not in self._keys or self._is_stale():
            await self.refresh()
        return self._keys.get(kid)

    async def refresh(self) -> None:
        """Fetch the key set unless a fetch was attempted less than the minimum interval
        ago. Callers arriving during a fetch wait for it instead of starting their own."""
        if not self._refresh_due():
            return
        async with self._lock:
            if not self._refresh_due():
                return  # another caller fetched while this one waited
            try:
                keys = await self._fetch_keys()
            except JWKSFetchError as exc:
                self._attempted_at = time.monotonic()
                self._discovered_url = None  # rediscover next time: the URL may have moved
                logger.warning(
                    "could not fetch the OIDC signing keys; keeping %d cached key(s)",
                    len(self._keys),
                    extra={"reason": str(exc)},
                )
                return
            self._keys = keys
            self._fetched_at = self._attempted_at = time.monotonic()

    def _is_stale(self) -> bool:
        return (
            self._fetched_at is None or time.monotonic() - self._fetched_at >= self._cache_seconds
        )

    def _refresh_due(self) -> bool:
        if self._attempted_at is None:
            return True
        return time.monotonic() - self._attempted_at >= self._min_refresh_seconds

    async def _fetch_keys(self) -> dict[str, SigningKey]:
        url = self._jwks_url or await self._discover()
        document = await self._get_json(url)
        raw_keys = document.get("keys")
        if not isinstance(raw_keys, list):
            raise JWKSFetchError(f"{url}: no 'keys' list in the JWKS")
        keys: dict[str, SigningKey] = {}
        for raw in raw_keys:
            key = _signing_key(raw)
            if key is not None:
                keys[key.kid] = key
        return keys

    async def _discover(self) -> str:
        if self._discovered_url is not None:
            return self._discovered_url
        assert self._issuer is not None
        url = self._issuer.rstrip("/") + "/.well-known/openid-configuration"
        document = await self._get_json(url)
        # OIDC Discovery requires the document to name the issuer it was fetched for; a
        # mismatch means the wrong URL (or a proxy page), whose keys must not be trusted.
        if document.get("issuer") != self._issuer:
            raise JWKSFetchError(f"{url}: the discovery document names another issuer")
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri:
            raise JWKSFetchError(f"{url}: the discovery document has no jwks_uri")
        self._discovered_url = jwks_uri
        return jwks_uri

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = await self._http.get(
                url, timeout=self._timeout, headers={"Accept": "application/json"}
            )
        except httpx.HTTPError as exc:
            raise JWKSFetchError(f"{url}: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise JWKSFetchError(f"{url}: HTTP {response.status_code}")
        try:
            document = json.loads(response.content)
        except ValueError as exc:
            raise JWKSFetchError(f"{url}: not JSON") from exc
        if not isinstance(document, dict):
            raise JWKSFetchError(f"{url}: not a JSON object")
        return document


def _signing_key(raw: object) -> SigningKey | None:
    """A usable signature key from one JWK, or ``None`` for keys this cache must ignore:
    no ``kid``, meant for encryption, symmetric, or of a type or curve PyJWT cannot load."""
    if not isinstance(raw, dict):
        return None
    kid, key_type = raw.get("kid"), raw.get("kty")
    if not isinstance(kid, str) or not isinstance(key_type, str):
        return None
    if raw.get("use", "sig") != "sig":
        return None
    by_algorithm: dict[str, jwt.PyJWK] = {}
    for algorithm in _algorithms_for(raw, key_type):
        try:
            by_algorithm[algorithm] = jwt.PyJWK(raw, algorithm)
        except (jwt.PyJWTError, NotImplementedError):
            continue  # the JWK disagrees with the algorithm (e.g. "alg": "ES256" on RSA)
    if not by_algorithm:
        return None
    return SigningKey(kid=kid, key_type=key_type, by_algorithm=by_algorithm)


def _algorithms_for(raw: dict[str, Any], key_type: str) -> tuple[str, ...]:
    declared = raw.get("alg")
    if key_type == "oct":
        return ()
    if isinstance(declared, str):
        return () if is_forbidden_algorithm(declared) else (declared,)
    if key_type == "RSA":
        return _RSA_ALGORITHMS
    if key_type == "EC":
        return _EC_ALGORITHMS.get(str(raw.get("crv")), ())
    if key_type == "OKP":
        return _OKP_ALGORITHMS.get(str(raw.get("crv")), ())
    return ()
