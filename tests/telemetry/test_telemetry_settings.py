"""Telemetry settings: what a wrong one says, what start-up makes of them, what is masked."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from agentic_platform.app import create_app
from agentic_platform.errors import ConfigurationError
from agentic_platform.settings import Settings, load_settings, masked
from agentic_platform.telemetry.runtime import service_name


def test_langfuse_without_keys_names_the_variables(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_settings(data_dir=tmp_path, telemetry={"enabled": True, "langfuse": {"enabled": True}})
    assert "AGENTIC_TELEMETRY__LANGFUSE__PUBLIC_KEY" in raised.value.message
    assert "AGENTIC_TELEMETRY__LANGFUSE__SECRET_KEY" in raised.value.message


def test_a_sampling_ratio_out_of_range_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_settings(data_dir=tmp_path, telemetry={"sampling_ratio": 1.5})
    assert "AGENTIC_TELEMETRY__SAMPLING_RATIO" in raised.value.message


def test_service_names(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert service_name(settings, ["llm-gateway"]) == "agentic-llm-gateway"
    assert service_name(settings, ["llm-gateway", "memory"]) == "agentic-platform"
    named = Settings(data_dir=tmp_path, telemetry={"service_name": "gw-eu"})  # type: ignore[arg-type]
    assert service_name(named, ["llm-gateway"]) == "gw-eu"


def test_secrets_are_masked(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        telemetry={  # type: ignore[arg-type]
            "otlp_headers": {"authorization": "Bearer collector-token"},
            "langfuse": {"enabled": True, "public_key": "pk-lf-1", "secret_key": "sk-lf-hidden"},
        },
    )
    shown = str(masked(settings))
    assert "collector-token" not in shown and "sk-lf-hidden" not in shown
    assert "pk-lf-1" in shown


async def test_no_metrics_route_while_telemetry_is_off(tmp_path: Path, admin_key: str) -> None:
    settings = Settings(data_dir=tmp_path, auth={"bootstrap_admin_key": admin_key})  # type: ignore[arg-type]
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://platform") as http,
    ):
        reply = await http.get("/metrics")
        health = await http.get("/healthz")
    assert reply.status_code == 404 and health.status_code == 200
    assert "x-trace-id" not in health.headers
