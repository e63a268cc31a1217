"""The first start creates one admin key, stores only its hash and shows it once."""

from __future__ import annotations

import stat
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from agentic_platform.app import create_app
from agentic_platform.settings import Settings
from agentic_platform.testing.catalog import scripted_models
from agentic_platform.testing.server import serve_in_thread


def _settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        models=scripted_models(),
        log_requests=False,
    )


async def _stored_hashes(database_url: str) -> list[str]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT secret_hash FROM api_keys"))
            return [row[0] for row in rows]
    finally:
        await engine.dispose()


async def test_first_start_creates_admin_key(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(tmp_path, database_url)
    with serve_in_thread(create_app(settings)) as url:
        key = settings.admin_key_file.read_text().strip()
        assert key.startswith("agp_") and len(key) >= 40
        assert stat.S_IMODE(settings.admin_key_file.stat().st_mode) == 0o600
        assert key in capsys.readouterr().out
        async with httpx.AsyncClient(base_url=url) as http:
            response = await http.get("/llm/v1/models", headers={"Authorization": f"Bearer {key}"})
            assert response.status_code == 200
    hashes = await _stored_hashes(database_url)
    assert len(hashes) == 2  # the admin key and the platform's service key
    assert not any(key in stored for stored in hashes)
    assert stat.S_IMODE(settings.service_key_file.stat().st_mode) == 0o600

    # A second start keeps the same key and prints nothing new.
    with serve_in_thread(create_app(settings)):
        pass
    assert capsys.readouterr().out.count("agp_") == 0
    assert settings.admin_key_file.read_text().strip() == key
    assert len(await _stored_hashes(database_url)) == 2


async def test_bootstrap_key_from_settings(tmp_path: Path) -> None:
    from pydantic import SecretStr

    from agentic_platform.auth.keys import new_key_secret
    from agentic_platform.settings import AuthSettings

    secret = new_key_secret()
    settings = _settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    settings.auth = AuthSettings(bootstrap_admin_key=SecretStr(secret))
    with serve_in_thread(create_app(settings)) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            ok = await http.get("/llm/v1/models", headers={"Authorization": f"Bearer {secret}"})
    assert ok.status_code == 200
    assert not settings.admin_key_file.exists()


async def test_weak_bootstrap_key_is_refused(tmp_path: Path) -> None:
    from pydantic import SecretStr

    from agentic_platform.errors import ConfigurationError
    from agentic_platform.settings import AuthSettings

    settings = _settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    settings.auth = AuthSettings(bootstrap_admin_key=SecretStr("password"))
    app = create_app(settings)
    with pytest.raises(ConfigurationError, match="BOOTSTRAP_ADMIN_KEY"):
        async with app.router.lifespan_context(app):
            pass
