"""Telemetry tests: platforms with tracing on, their spans kept in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import SecretStr

from agentic_platform.app import create_app
from agentic_platform.llm_gateway.catalog import Deployment, ModelEntry
from agentic_platform.settings import AuthSettings, ServiceName, Settings
from agentic_platform.testing.catalog import scripted_models
from agentic_platform.testing.memory import memory_models
from agentic_platform.testing.redis_server import free_port
from agentic_platform.testing.telemetry import record_spans

MakeSettings = Callable[..., Settings]


@pytest.fixture
def telemetry_settings(tmp_path: Path, admin_key: str) -> MakeSettings:
    """Settings with telemetry on: ``telemetry_settings(services, models=..., **telemetry)``
    (every call shares one data directory unless given one: one database, one service key)."""

    def make(
        services: Sequence[ServiceName] = ("llm-gateway",),
        *,
        models: Sequence[ModelEntry] = (),
        data_dir: Path | None = None,
        **telemetry: Any,
    ) -> Settings:
        return Settings(
            data_dir=data_dir or tmp_path / "data",
            models=[*scripted_models(), *memory_models(), *models],
            auth=AuthSettings(bootstrap_admin_key=SecretStr(admin_key)),
            log_requests=False,
            services=list(services),
            gateway={"retry_backoff_seconds": 0.01},  # type: ignore[arg-type]
            memory={"embedding_model": "test-embed", "extraction_model": None},  # type: ignore[arg-type]
            retrieval={"default_embedding_model": "test-embed"},  # type: ignore[arg-type]
            telemetry={"enabled": True, **telemetry},  # type: ignore[arg-type]
        )

    return make


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[tuple[FastAPI, InMemorySpanExporter]]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app, record_spans(app)


@pytest.fixture
def platform() -> Callable[[Settings], Any]:
    """``async with platform(settings) as (app, spans)``: an app in its lifespan."""
    return running


@pytest.fixture
def client_for(admin_key: str) -> Callable[[FastAPI], httpx.AsyncClient]:
    """An in-process client of an app, signed in with the admin key."""

    def make(app: FastAPI, key: str | None = None) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://platform",
            headers={"Authorization": f"Bearer {key or admin_key}"},
            timeout=30,
        )

    return make


@pytest.fixture
def flaky_model() -> ModelEntry:
    """An alias whose first deployment is down (nothing listens there) and whose second
    answers: every call fails over once."""
    return ModelEntry(
        alias="flaky",
        capabilities={"chat"},
        deployments=[
            Deployment(
                provider="openai",
                model="gpt-down",
                api_base=f"http://127.0.0.1:{free_port()}/v1",
                api_key="sk-upstream-never-shown",
                max_retries=0,
            ),
            Deployment(provider="test", model="echo", input_price_per_mtok=2_000_000.0),
        ],
    )
