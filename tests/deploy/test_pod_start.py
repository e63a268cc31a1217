"""A pod of the chart, started for real: the LLM gateway with the environment and settings
file the chart renders, on a database the migration Job's command migrated, answers its
probes; on a database nobody migrated it does not start (it never migrates itself)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from agentic_platform.app import create_app
from agentic_platform.auth.keys import new_key_secret
from agentic_platform.cli import app as cli
from agentic_platform.settings import load_settings
from agentic_platform.testing.catalog import scripted_models
from agentic_platform.testing.redis_server import RedisServer
from agentic_platform.testing.server import serve_in_thread

CHART = "agentic-platform"


@pytest.fixture
def redis_url() -> Iterator[str]:
    try:
        server = RedisServer()
    except FileNotFoundError as error:
        pytest.skip(str(error))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def pod_environment(
    charts: Any, service: str, tmp_path: Path, database_url: str, redis_url: str
) -> dict[str, str]:
    """The container's environment as the chart renders it (examples/minimal.yaml), with the
    Secret's values, and local paths for the mounted ConfigMap and volumes."""
    values = charts.example_values(CHART, "minimal")
    manifests = charts.render(CHART, values)
    config = charts.named(manifests, "ConfigMap", f"{charts.release}-{CHART}")
    settings_file = yaml_with_catalog(config["data"]["platform.yaml"], redis_url)
    (tmp_path / "platform.yaml").write_text(settings_file)
    deployment = charts.named(manifests, "Deployment", f"{charts.release}-{CHART}-{service}")
    env: dict[str, str] = charts.env_of(deployment["spec"]["template"]["spec"]["containers"][0])
    env = {k: v.replace("/var/lib/agentic", str(tmp_path / "var")) for k, v in env.items()}
    env["AGENTIC_CONFIG_FILE"] = str(tmp_path / "platform.yaml")
    env["AGENTIC_DATABASE_URL"] = database_url
    env["AGENTIC_AUTH__SERVICE_KEY"] = new_key_secret()
    env["AGENTIC_AUTH__BOOTSTRAP_ADMIN_KEY"] = new_key_secret()
    return env


def yaml_with_catalog(text: str, redis_url: str) -> str:
    """The chart's settings file with the scripted catalog (no model files here) and the
    test's Redis in place of the example's host names."""
    data = yaml.safe_load(text)
    data["limits"]["url"] = redis_url
    data["models"] = [m.model_dump(mode="json") for m in scripted_models()]
    data["memory"] = {"extraction_model": "none", "embedding_model": "test-embed"}
    return json.dumps(data)


def migrate(charts: Any, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    (job,) = charts.of_kind(charts.example(CHART, "minimal"), "Job")
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    with monkeypatch.context() as patch:
        patch.setenv("AGENTIC_DATABASE_URL", env["AGENTIC_DATABASE_URL"])
        result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output


def test_the_gateway_pod_starts_after_the_migration_job(
    charts: Any,
    database_url: str,
    redis_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = pod_environment(charts, "llm-gateway", tmp_path, database_url, redis_url)
    migrate(charts, env, monkeypatch)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = load_settings()
    with serve_in_thread(create_app(settings, ["llm-gateway"])) as url:
        assert httpx.get(f"{url}/healthz").status_code == 200
        ready = httpx.get(f"{url}/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"database": "ok", "limits": "ok"}
        models = httpx.get(
            f"{url}/llm/v1/models",
            headers={"Authorization": f"Bearer {env['AGENTIC_AUTH__BOOTSTRAP_ADMIN_KEY']}"},
        )
        assert models.status_code == 200
    assert (tmp_path / "var" / "data" / "journal").is_dir()


async def test_without_the_migration_job_the_pod_does_not_start(
    charts: Any,
    database_url: str,
    redis_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = pod_environment(charts, "llm-gateway", tmp_path, database_url, redis_url)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    application = create_app(load_settings(), ["llm-gateway"])
    with pytest.raises(DBAPIError):
        async with application.router.lifespan_context(application):
            pass
