"""Every way a caller can be wrong answers 401 or 403 (never 200 or 500), for API keys and
for OIDC tokens verified against a local identity provider."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from governance_harness import Platform, governed, running
from jwt.algorithms import RSAAlgorithm

from agentic_platform.settings import Settings

AUDIENCE = "agentic-console"
SIGNING_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
async def identity_provider() -> AsyncIterator[str]:
    """A loopback OIDC provider publishing SIGNING_KEY; yields its issuer URL."""
    jwk = RSAAlgorithm.to_jwk(SIGNING_KEY.public_key(), as_dict=True) | {
        "kid": "k1",
        "use": "sig",
        "alg": "RS256",
    }
    app = web.Application()
    issuer = ""

    async def discovery(_request: web.Request) -> web.Response:
        return web.json_response({"issuer": issuer, "jwks_uri": f"{issuer}/jwks"})

    async def jwks(_request: web.Request) -> web.Response:
        return web.json_response({"keys": [jwk]})

    app.router.add_get("/.well-known/openid-configuration", discovery)
    app.router.add_get("/jwks", jwks)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    issuer = f"http://{host}:{port}"
    try:
        yield issuer
    finally:
        await runner.cleanup()


@pytest.fixture
async def platform(
    settings: Settings, database_url: str, identity_provider: str
) -> AsyncIterator[Platform]:
    governed(settings, database_url)
    settings.oidc = settings.oidc.model_copy(
        update={
            "enabled": True,
            "issuer": identity_provider,
            "audiences": [AUDIENCE],
            "team_claim": "team",
        }
    )
    async with running(settings) as started:
        yield started


def token(issuer: str, *, key: Any = SIGNING_KEY, alg: str = "RS256", **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": issuer, "aud": AUDIENCE, "sub": "oidc-user-1", "iat": now, "exp": now + 300}
    return jwt.encode(body | claims, key, algorithm=alg, headers={"kid": "k1"})


def hmac_token(claims: dict[str, Any]) -> str:
    """The classic confusion attack: HS256, keyed with the provider's public key PEM."""
    pem = SIGNING_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = (
        part(b'{"alg":"HS256","kid":"k1","typ":"JWT"}') + "." + part(json.dumps(claims).encode())
    )
    signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{part(signature)}"


async def status(platform: Platform, credential: str | None, path: str = "/llm/v1/models") -> int:
    async with platform.client(credential) as http:
        response = await http.get(path)
    assert response.status_code != 500, response.text
    if response.status_code >= 400:
        assert set(response.json()["error"]) == {"message", "type", "param", "code"}
    return response.status_code


async def test_api_key_matrix(platform: Platform) -> None:
    _, revoked_id, revoked = await platform.user_with_key("revoked-user")
    await platform.admin("POST", f"/keys/{revoked_id}/revoke")
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    _, _, expired = await platform.user_with_key("expired-user", expires_at=past)
    await asyncio.sleep(0.6)
    assert await status(platform, None) == 401
    assert await status(platform, "agp_" + "x" * 43) == 401
    assert await status(platform, "sk-not-ours") == 401
    assert await status(platform, revoked) == 401
    assert await status(platform, expired) == 401


async def test_roles_and_other_teams(platform: Platform) -> None:
    _, _, member = await platform.user_with_key("plain-member")
    other_team = await platform.admin("POST", "/teams", json={"name": "other"})
    stranger = await platform.admin(
        "POST", "/principals", json={"name": "stranger", "team_id": other_team["id"]}
    )
    stranger_key = await platform.admin("POST", "/keys", json={"principal_id": stranger["id"]})
    assert await status(platform, member) == 200
    for admin_only in ("/admin/v1/plans", "/admin/v1/principals", "/admin/v1/teams"):
        assert await status(platform, member, admin_only) == 403
    assert await status(platform, member, f"/admin/v1/teams/{other_team['id']}") == 403
    assert await status(platform, member, f"/admin/v1/principals/{stranger['id']}") == 403
    assert await status(platform, member, f"/admin/v1/keys/{stranger_key['id']}") == 404
    async with platform.client(member) as http:
        usage = await http.get("/admin/v1/usage", params={"principal_id": stranger["id"]})
        # A member asking for someone else's usage gets their own, never the other's.
        assert usage.status_code == 200
        assert all(t["group"] != stranger["id"] for t in usage.json()["totals"])
        act_as = await http.get("/llm/v1/models", headers={"X-Agentic-Act-As": stranger["id"]})
        assert act_as.status_code == 403


async def test_oidc_token_signs_in_and_creates_a_principal(
    platform: Platform, identity_provider: str
) -> None:
    good = token(identity_provider, email="ana@example.com", team="research", groups=["admin"])
    assert await status(platform, good) == 200
    assert await status(platform, good, "/admin/v1/plans") == 200  # the admin group
    async with platform.client(good) as http:
        me = (await http.get("/admin/v1/me")).json()
    assert me["principal"]["issuer"] == identity_provider
    teams = await platform.admin("GET", "/teams")
    assert me["principal"]["team_id"] in {t["id"] for t in teams if t["name"] == "research"}
    member = token(identity_provider, sub="oidc-user-2")
    assert await status(platform, member) == 200
    assert await status(platform, member, "/admin/v1/plans") == 403


async def test_oidc_token_matrix(platform: Platform, identity_provider: str) -> None:
    now = int(time.time())
    bad_tokens = {
        "bad signature": token(identity_provider, key=OTHER_KEY),
        "wrong issuer": token(identity_provider, iss="https://evil.example.com"),
        "wrong audience": token(identity_provider, aud="someone-else"),
        "expired": token(identity_provider, exp=now - 3600, iat=now - 7200),
        "not yet valid": token(identity_provider, nbf=now + 3600),
        "alg none": jwt.encode(
            {"iss": identity_provider, "aud": AUDIENCE, "sub": "x", "exp": now + 60},
            None,
            algorithm="none",
            headers={"kid": "k1"},
        ),
        "HS256 keyed with the public key": hmac_token(
            {"iss": identity_provider, "aud": AUDIENCE, "sub": "x", "exp": now + 60}
        ),
        "garbage": "aaa.bbb.ccc",
    }
    for case, credential in bad_tokens.items():
        assert await status(platform, credential) == 401, case


async def test_health_needs_no_credentials(platform: Platform) -> None:
    async with platform.client() as http:
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/readyz")).status_code == 200


PUBLIC = "public"
"""No credential needed."""
SERVICE = "service"
"""Any signed-in caller, and a team service acting for a member (as that member)."""
OWN = "own"
"""A member on their own objects; a service acting for a member is refused."""
ADMIN = "admin"
"""Admins only: a member and a service acting for one are refused."""

ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("POST", "/llm/v1/chat/completions"): SERVICE,
    ("POST", "/llm/v1/embeddings"): SERVICE,
    ("POST", "/llm/v1/rerank"): SERVICE,
    ("GET", "/llm/v1/models"): SERVICE,
    ("POST", "/llm/v1/messages"): SERVICE,
    ("POST", "/llm/v1/messages/count_tokens"): SERVICE,
    ("GET", "/llm/v1/models/{model}"): SERVICE,
    ("POST", "/llm/v1/responses"): SERVICE,
    ("POST", "/llm/v1/completions"): SERVICE,
    ("POST", "/admin/v1/keys"): OWN,
    ("GET", "/admin/v1/keys"): OWN,
    ("GET", "/admin/v1/keys/{key_id}"): OWN,
    ("PATCH", "/admin/v1/keys/{key_id}"): OWN,
    ("POST", "/admin/v1/keys/{key_id}/revoke"): OWN,
    ("POST", "/admin/v1/keys/{key_id}/rotate"): OWN,
    ("GET", "/admin/v1/me"): SERVICE,
    ("GET", "/admin/v1/principals"): ADMIN,
    ("POST", "/admin/v1/principals"): ADMIN,
    ("GET", "/admin/v1/principals/{principal_id}"): OWN,
    ("PATCH", "/admin/v1/principals/{principal_id}"): ADMIN,
    ("GET", "/admin/v1/teams"): ADMIN,
    ("POST", "/admin/v1/teams"): ADMIN,
    ("GET", "/admin/v1/teams/{team_id}"): ADMIN,
    ("PATCH", "/admin/v1/teams/{team_id}"): ADMIN,
    ("GET", "/admin/v1/plans"): ADMIN,
    ("POST", "/admin/v1/plans"): ADMIN,
    ("GET", "/admin/v1/plans/{plan_id}"): ADMIN,
    ("PATCH", "/admin/v1/plans/{plan_id}"): ADMIN,
    ("DELETE", "/admin/v1/plans/{plan_id}"): ADMIN,
    ("GET", "/admin/v1/usage"): SERVICE,
    ("GET", "/admin/v1/usage/records"): SERVICE,
    ("POST", "/memory/v1/sessions"): SERVICE,
    ("GET", "/memory/v1/sessions"): SERVICE,
    ("GET", "/memory/v1/sessions/{session_id}"): SERVICE,
    ("DELETE", "/memory/v1/sessions/{session_id}"): SERVICE,
    ("POST", "/memory/v1/sessions/{session_id}/messages"): SERVICE,
    ("GET", "/memory/v1/sessions/{session_id}/messages"): SERVICE,
    ("GET", "/memory/v1/sessions/{session_id}/extraction"): SERVICE,
    ("POST", "/memory/v1/memories"): SERVICE,
    ("GET", "/memory/v1/memories"): SERVICE,
    ("POST", "/memory/v1/memories/search"): SERVICE,
    ("GET", "/memory/v1/memories/{memory_id}"): SERVICE,
    ("PATCH", "/memory/v1/memories/{memory_id}"): SERVICE,
    ("DELETE", "/memory/v1/memories/{memory_id}"): SERVICE,
    ("GET", "/retrieval/v1/knowledge-bases"): SERVICE,
    ("POST", "/retrieval/v1/knowledge-bases"): SERVICE,
    ("GET", "/retrieval/v1/knowledge-bases/{kb}"): SERVICE,
    ("DELETE", "/retrieval/v1/knowledge-bases/{kb}"): SERVICE,
    ("POST", "/retrieval/v1/knowledge-bases/{kb}/documents"): SERVICE,
    ("GET", "/retrieval/v1/knowledge-bases/{kb}/documents"): SERVICE,
    ("GET", "/retrieval/v1/knowledge-bases/{kb}/documents/{document_id}"): SERVICE,
    ("DELETE", "/retrieval/v1/knowledge-bases/{kb}/documents/{document_id}"): SERVICE,
    ("POST", "/retrieval/v1/knowledge-bases/{kb}/jobs"): SERVICE,
    ("GET", "/retrieval/v1/knowledge-bases/{kb}/jobs/{job_id}"): SERVICE,
    ("POST", "/retrieval/v1/knowledge-bases/{kb}/retrieve"): SERVICE,
    ("POST", "/retrieval/v1/retrieve"): SERVICE,
    ("GET", "/agents/v1"): SERVICE,
    ("POST", "/agents/v1/{name}/invoke"): SERVICE,
    ("POST", "/agents/v1/{name}/stream"): SERVICE,
    ("GET", "/agents/v1/runs"): SERVICE,
    ("GET", "/agents/v1/runs/{run_id}"): SERVICE,
}
"""Who reaches each route (docs/security.md, "Who may do what"). A route added to the app
without an entry here fails ``test_every_route_has_a_role_entry``."""


def _operations(platform: Platform) -> set[tuple[str, str]]:
    paths = platform.app.openapi()["paths"]
    return {(method.upper(), path) for path, ops in paths.items() for method in ops}


def test_every_route_has_a_role_entry(platform: Platform) -> None:
    operations = _operations(platform)
    assert sorted(operations - ROUTES.keys()) == [], "routes with no entry in ROUTES"
    assert sorted(ROUTES.keys() - operations) == [], "entries in ROUTES for no route"


BODIES: dict[str, dict[str, Any]] = {
    "/admin/v1/principals": {"name": "matrix-new"},
    "/admin/v1/principals/{principal_id}": {"name": "matrix-renamed"},
    "/admin/v1/teams": {"name": "matrix-team"},
    "/admin/v1/teams/{team_id}": {"name": "matrix-renamed"},
    "/admin/v1/plans": {"name": "matrix-plan"},
    "/admin/v1/plans/{plan_id}": {"name": "matrix-plan-renamed"},
    "/llm/v1/messages": {
        "model": "echo",
        "max_tokens": 8,
        "messages": [{"role": "user", "content": "hi"}],
    },
    "/llm/v1/messages/count_tokens": {
        "model": "echo",
        "messages": [{"role": "user", "content": "hi"}],
    },
}
"""Valid bodies where a refusal must not hide behind a 400 (``{}`` elsewhere)."""


async def _call(http: httpx.AsyncClient, method: str, template: str, ids: dict[str, str]) -> int:
    path = re.sub(r"\{(\w+)\}", lambda m: ids.get(m.group(1), f"{m.group(1)}_unknown"), template)
    body = BODIES.get(template, {}) if method in ("POST", "PATCH") else None
    response = await http.request(method, path, json=body)
    assert response.status_code < 500, (method, path, response.text)
    if response.status_code == 403 and "X-Agentic-Act-As" in http.headers:
        assert response.json()["error"]["code"] == "act_as_not_allowed", (method, path)
    return response.status_code


async def test_route_by_role_matrix(platform: Platform) -> None:
    """Every route, as nobody, as a member and as a team service acting for that member:
    refused exactly where the role table says, reached (any answer but 401/403) elsewhere."""
    member_id, _, member = await platform.user_with_key("matrix-member")
    me = await platform.admin("GET", f"/principals/{member_id}")
    service = await platform.admin(
        "POST", "/principals", json={"name": "matrix-bot", "kind": "service", "roles": ["service"]}
    )
    bot = (await platform.admin("POST", "/keys", json={"principal_id": service["id"]}))["secret"]
    ids = {"principal_id": member_id, "team_id": me["team_id"], "key_id": "key_unknown"}
    for (method, template), level in ROUTES.items():
        async with platform.client() as http:
            anonymous = await _call(http, method, template, ids)
        assert anonymous == (200 if level == PUBLIC else 401), (method, template, anonymous)
        if level == PUBLIC:
            continue
        async with platform.client(member) as http:
            as_member = await _call(http, method, template, ids)
        assert (as_member == 403) == (level == ADMIN), (method, template, as_member)
        async with platform.client(bot, **{"X-Agentic-Act-As": member_id}) as http:
            acting = await _call(http, method, template, ids)
        assert (acting == 403) == (level != SERVICE), (method, template, acting)
    assert (await platform.chat(member)).status_code == 200  # nothing above revoked it


CONSOLE_ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/console"): "/console",
    ("GET", "/console/"): "/console/",
    ("GET", "/console/config.json"): "/console/config.json",
    ("GET", "/console/{path:path}"): "/console/js/app.js",
}
"""The console's pages and modules (left out of the OpenAPI document): public, as the page
must load before anyone signs in; they hold no data, and the page signs in against the APIs
above."""


async def test_the_console_is_public_and_holds_no_data(platform: Platform) -> None:
    from agentic_platform.console.router import router

    served = {(method, route.path) for route in router.routes for method in route.methods}  # type: ignore[attr-defined]
    assert served == CONSOLE_ROUTES.keys(), "a console route with no entry here"
    async with platform.client() as http:
        for path in CONSOLE_ROUTES.values():
            answer = await http.get(path)
            assert answer.status_code in (200, 308), path
            assert platform.admin_key not in answer.text
