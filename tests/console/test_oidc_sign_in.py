"""Signing in to the console by OIDC, in a real browser, against a real provider on loopback.

The provider below is a small authorization server of the kind Cognito's hosted UI is: an
OpenID configuration, a sign-in page that sends the browser back with a code, a token
endpoint that trades the code (once, and only with the PKCE verifier whose S256 challenge
the sign-in began with) for RS256 tokens, and its JWKS. The platform verifies those tokens as
it verifies any bearer JWT; nothing on its side knows it is a test.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from html import escape
from urllib.parse import urlencode

import jwt
import pytest
from console_harness import Console, console_settings
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from agentic_platform.app import create_app
from agentic_platform.testing.server import serve_in_thread

pytestmark = pytest.mark.browser

CLIENT_ID = "console-client"
CORS = {"Access-Control-Allow-Origin": "*"}
USERS = {
    "ada": {"sub": "user-ada", "email": "ada@example.com", "name": "Ada", "groups": ["staff"]},
    "root": {"sub": "user-root", "email": "root@example.com", "name": "Root", "groups": ["admin"]},
}


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    user: str


@dataclass
class Provider:
    """What the provider was asked, so a test can tell how the console signed in."""

    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    url: str = ""
    grants: dict[str, Grant] = field(default_factory=dict)
    authorize_queries: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/jwks", self.jwks),
                Route("/authorize", self.authorize, methods=["GET", "POST"]),
                Route("/token", self.token, methods=["POST", "OPTIONS"]),
            ]
        )

    async def discovery(self, request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.url,
                "authorization_endpoint": f"{self.url}/authorize",
                "token_endpoint": f"{self.url}/token",
                "jwks_uri": f"{self.url}/jwks",
                "code_challenge_methods_supported": ["S256"],
            },
            headers=CORS,
        )

    async def jwks(self, request: Request) -> Response:
        public = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return JSONResponse({"keys": [public | {"kid": "k1", "alg": "RS256", "use": "sig"}]})

    async def authorize(self, request: Request) -> Response:
        if request.method == "GET":
            query = dict(request.query_params)
            self.authorize_queries.append(query)
            hidden = "".join(
                f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
                for k, v in query.items()
            )
            buttons = "".join(
                f'<button name="user" value="{u}">Continue as {escape(USERS[u]["name"])}</button>'
                for u in USERS
            )
            cancel = '<button name="user" value="">Cancel</button>'
            page = f'<h1>Provider sign-in</h1><form method="post">{hidden}{buttons}{cancel}</form>'
            return HTMLResponse(page)
        form = {k: str(v) for k, v in (await request.form()).items()}
        back = form["redirect_uri"]
        if not form.get("user"):
            answer = {"error": "access_denied", "error_description": "The user cancelled."}
            return RedirectResponse(f"{back}?{urlencode(answer | {'state': form['state']})}", 303)
        code = secrets.token_urlsafe(16)
        self.grants[code] = Grant(form["client_id"], back, form["code_challenge"], form["user"])
        return RedirectResponse(f"{back}?{urlencode({'code': code, 'state': form['state']})}", 303)

    async def token(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(headers=CORS | {"Access-Control-Allow-Headers": "Content-Type"})
        form = {k: str(v) for k, v in (await request.form()).items()}
        self.token_requests.append(form)
        grant = self.grants.pop(form.get("code", ""), None)  # a code is good once
        verifier = form.get("code_verifier", "")
        digest = hashlib.sha256(verifier.encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        problem = (
            "unknown or used code"
            if grant is None
            else "wrong client"
            if form.get("client_id") != grant.client_id
            else "wrong redirect_uri"
            if form.get("redirect_uri") != grant.redirect_uri
            else "PKCE verifier does not match the challenge"
            if challenge != grant.challenge
            else None
        )
        if problem is not None or grant is None:
            self.refused.append(problem or "")
            return JSONResponse({"error": "invalid_grant"}, status_code=400, headers=CORS)
        now = int(time.time())
        claims = {"iss": self.url, "aud": CLIENT_ID, "iat": now, "exp": now + 600}
        token = jwt.encode(
            claims | USERS[grant.user], self.key, algorithm="RS256", headers={"kid": "k1"}
        )
        return JSONResponse(
            {"id_token": token, "access_token": token, "token_type": "Bearer", "expires_in": 600},
            headers=CORS,
        )


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    idp = Provider()
    with serve_in_thread(idp.app()) as url:
        idp.url = url
        yield idp


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, admin_key: str, provider: Provider
) -> Iterator[str]:
    settings = console_settings(tmp_path_factory.mktemp("console-oidc") / "data", admin_key)
    settings = settings.model_copy(
        update={
            "oidc": settings.oidc.model_copy(
                update={"enabled": True, "issuer": provider.url, "audiences": [CLIENT_ID]}
            )
        }
    )
    with serve_in_thread(create_app(settings)) as url:
        yield url


def sign_in_as(console: Console, button: str) -> None:
    page = console.page
    page.goto("/console/")
    page.get_by_role("button", name="Sign in with your organisation").click()
    page.get_by_role("heading", name="Provider sign-in").wait_for()
    page.get_by_role("button", name=button).click()


def test_a_user_signs_in_by_oidc_with_pkce_and_sees_only_their_pages(
    console: Console, provider: Provider
) -> None:
    page = console.page
    sign_in_as(console, "Continue as Ada")
    page.get_by_role("button", name="Sign out").wait_for()
    assert "Ada (member)" in page.locator("#who").inner_text()
    assert "Principals and plans" not in console.nav_titles()
    assert "code=" not in page.url and "state=" not in page.url, "the code left the address bar"
    asked = provider.authorize_queries[-1]
    assert asked["code_challenge_method"] == "S256" and asked["client_id"] == CLIENT_ID
    assert asked["redirect_uri"] == f"{console.server}/console/"
    assert provider.token_requests[-1]["code_verifier"], "the code was traded with a verifier"
    assert page.evaluate("() => localStorage.length") == 0, "nothing is kept beyond the tab"
    console.go("Keys")  # the pages call the APIs with the provider's token
    page.get_by_role("heading", level=1, name="Keys").wait_for()
    assert not page.locator(".error").filter(has_text="40").count()
    me = console.api("GET", "/admin/v1/principals").json()
    assert any(p["name"] == "Ada" and p["roles"] == ["member"] for p in me)
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Sign in with your organisation").wait_for()
    assert page.evaluate("() => sessionStorage.length") == 0


def test_an_admin_group_member_gets_the_admin_pages(console: Console) -> None:
    sign_in_as(console, "Continue as Root")
    console.page.get_by_role("button", name="Sign out").wait_for()
    assert "Principals and plans" in console.nav_titles()
    console.go("Principals and plans")


def test_a_cancelled_sign_in_says_so_and_stays_signed_out(console: Console) -> None:
    page = console.page
    sign_in_as(console, "Cancel")
    page.get_by_text("The user cancelled.").wait_for()
    assert page.get_by_role("button", name="Sign out").is_hidden()
    assert "error=" not in page.url


def test_an_answer_to_another_sign_in_is_refused(console: Console, provider: Provider) -> None:
    page = console.page
    page.goto("/console/?code=forged&state=not-ours")
    page.get_by_text("does not match the request").wait_for()
    assert page.get_by_role("button", name="Sign out").is_hidden()
    assert provider.token_requests == [] or provider.token_requests[-1].get("code") != "forged"


def test_a_replayed_code_is_refused_by_the_provider(console: Console, provider: Provider) -> None:
    page = console.page
    sign_in_as(console, "Continue as Ada")
    page.get_by_role("button", name="Sign out").wait_for()
    used = provider.token_requests[-1]
    replay = console.page.request.post(f"{provider.url}/token", form=used)
    assert replay.status == 400
    assert provider.refused[-1] == "unknown or used code"
