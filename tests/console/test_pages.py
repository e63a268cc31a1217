"""What the console's server answers, without a browser: the Content-Security-Policy, no
inline script, no file outside the console, and the sign-in configuration."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

import agentic_platform.console
from agentic_platform.console.router import content_security_policy
from agentic_platform.settings import Settings

STATIC = Path(agentic_platform.console.__file__).parent / "static"


def test_pages_carry_a_policy_without_inline_scripts(server: str) -> None:
    for path in ("/console/", "/console/js/app.js", "/console/console.css"):
        answer = httpx.get(f"{server}{path}")
        assert answer.status_code == 200, path
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe" not in policy, policy
        assert "frame-ancestors 'none'" in policy
        assert answer.headers["x-content-type-options"] == "nosniff"
    assert (
        httpx.get(f"{server}/console/js/app.js")
        .headers["content-type"]
        .startswith("text/javascript")
    )


def test_the_page_has_no_inline_script_or_handler() -> None:
    page = (STATIC / "index.html").read_text()
    assert re.findall(r"<script(?![^>]*\bsrc=)", page) == []
    assert re.search(r"\son[a-z]+=", page) is None
    for module in STATIC.rglob("*.js"):
        source = module.read_text()
        assert "innerHTML" not in source and "eval(" not in source, module.name
        assert re.search(r"localStorage\s*[.\[]", source) is None, (
            f"{module.name} uses localStorage"
        )


def test_nothing_outside_the_console_is_served(server: str) -> None:
    assert httpx.get(f"{server}/console", follow_redirects=False).status_code == 308
    for path in (
        "/console/missing.js",
        "/console/..%2Fsettings.py",
        "/console/js/",
        "/console/__init__.py",
    ):
        answer = httpx.get(f"{server}{path}")
        assert answer.status_code == 404, path
        assert answer.json()["error"]["message"]


def test_without_oidc_the_page_offers_keys_only(server: str) -> None:
    config = httpx.get(f"{server}/console/config.json").json()
    assert config["oidc"] == {
        "enabled": False,
        "issuer": None,
        "client_id": None,
        "scopes": "openid email profile",
    }


def test_with_oidc_the_page_may_call_the_provider_and_nothing_else() -> None:
    settings = Settings(
        data_dir=Path("unused"),
        oidc={"enabled": True, "issuer": "https://id.example.com/pool", "audiences": ["c1"]},  # type: ignore[arg-type]
        console={"oidc_token_origins": ["https://login.example.com"]},  # type: ignore[arg-type]
    )
    policy = content_security_policy(settings)
    assert "connect-src 'self' https://id.example.com https://login.example.com;" in policy
    with pytest.raises(ValidationError, match="oidc_token_origins"):
        Settings(
            data_dir=Path("unused"), console={"oidc_token_origins": ["https://a.com; script-src *"]}
        )  # type: ignore[arg-type]
