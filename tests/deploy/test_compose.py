"""deploy/compose.yaml: it parses, runs the image the Dockerfile builds for every platform
service, and gives each one settings the platform accepts."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentic_platform.auth.keys import new_key_secret
from agentic_platform.settings import ALL_SERVICES, load_settings

PLATFORM_SERVICES = ("llm-gateway", "retrieval", "memory", "agents")


@pytest.fixture(scope="module")
def compose(charts: Any) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((charts.deploy / "compose.yaml").read_text())
    return loaded


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's ${NAME:?message} and ${NAME}."""
    return re.sub(r"\$\{(\w+)(:\?[^}]*)?\}", lambda m: variables[m.group(1)], value)


def test_every_platform_service_runs_the_image_the_dockerfile_builds(
    charts: Any, compose: dict[str, Any]
) -> None:
    services = compose["services"]
    version = charts.load("agentic-platform").metadata["appVersion"]
    for name in (*PLATFORM_SERVICES, "migrate"):
        service = services[name]
        assert service["image"] == f"agentic-platform:{version}-local", name
        build = service["build"]
        context = (charts.deploy / build["context"]).resolve()
        assert context == charts.repo
        assert (context / build["dockerfile"]).is_file()
        assert build["args"]["LOCAL_MODEL"] == "true"
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"]
        assert service["user"].split(":")[0] == "10001"


def test_the_image_name_is_the_one_the_dockerfile_and_the_chart_use(
    charts: Any, compose: dict[str, Any]
) -> None:
    dockerfile = (charts.deploy / "docker" / "Dockerfile").read_text(encoding="utf-8")
    (title,) = re.findall(r'org\.opencontainers\.image\.title="([^"]+)"', dockerfile)
    assert f"-t {title}:" in dockerfile, "the build command in the Dockerfile's header"
    assert compose["services"]["llm-gateway"]["image"].split(":")[0] == title
    assert charts.load("agentic-platform").values["image"]["repository"] == title


def test_the_services_are_what_agentic_serve_runs(compose: dict[str, Any]) -> None:
    for name in PLATFORM_SERVICES:
        (service,) = compose["services"][name]["command"]
        assert service == name
        assert service in ALL_SERVICES or service == "agents"
        assert compose["services"][name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
    migrate = compose["services"]["migrate"]
    assert migrate["entrypoint"] + migrate["command"] == ["agentic", "db", "upgrade"]


def test_the_backing_services(compose: dict[str, Any]) -> None:
    postgres = compose["services"]["postgres"]["image"]
    assert postgres.startswith("pgvector/pgvector:") and "latest" not in postgres
    assert not compose["services"]["redis"]["image"].endswith(":latest")


def test_the_platform_accepts_the_environment(
    compose: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    variables = {"AGENTIC_SERVICE_KEY": new_key_secret(), "AGENTIC_ADMIN_KEY": new_key_secret()}
    for name in PLATFORM_SERVICES:
        environment = compose["services"][name]["environment"]
        with monkeypatch.context() as patch:
            for key, value in environment.items():
                patch.setenv(key, interpolate(str(value), variables))
            patch.setenv("AGENTIC_DATA_DIR", str(tmp_path))
            settings = load_settings()
        assert settings.auto_migrate is False
        assert settings.limits.url.startswith("redis://redis:")
        assert settings.database_url and "@postgres:5432/" in settings.database_url
        urls = json.loads(environment["AGENTIC_SERVICE_URLS"])
        for service, url in urls.items():
            assert url == f"http://{service}:8080"
            assert service in compose["services"]
