"""Drive a running platform (in-process transport, real database) through its admin API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from agentic_platform.app import create_app
from agentic_platform.llm_gateway.catalog import Deployment, ModelEntry
from agentic_platform.settings import Settings


class Platform:
    """One running app and a client per key."""

    def __init__(self, app: FastAPI, admin_key: str) -> None:
        self.app = app
        self.admin_key = admin_key

    def client(self, key: str | None = None, **headers: str) -> httpx.AsyncClient:
        auth = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url="http://platform",
            headers={**auth, **headers},
            timeout=30,
        )

    async def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        async with self.client(self.admin_key) as http:
            response = await http.request(method, f"/admin/v1{path}", **kwargs)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    async def user_with_key(self, name: str, **key: Any) -> tuple[str, str, str]:
        """A member principal and a key of theirs: (principal id, key id, secret)."""
        principal = await self.admin("POST", "/principals", json={"name": name})
        issued = await self.admin(
            "POST", "/keys", json={"principal_id": principal["id"], "name": name, **key}
        )
        return principal["id"], issued["id"], issued["secret"]

    async def chat(self, key: str, model: str = "echo", **extra: Any) -> httpx.Response:
        async with self.client(key) as http:
            return await http.post(
                "/llm/v1/chat/completions",
                json={
                    "model": model,
                    "messages": [{"role": "user", "content": "hi there"}],
                    **extra,
                },
            )

    @property
    def state(self) -> Any:
        return self.app.state.platform


def priced_models() -> list[ModelEntry]:
    return [
        ModelEntry(
            alias="priced",
            capabilities={"chat", "streaming"},
            deployments=[
                Deployment(
                    provider="test",
                    model="priced",
                    input_price_per_mtok=1_000_000.0,  # $1 per input token: easy sums
                    output_price_per_mtok=1_000_000.0,
                )
            ],
        ),
        ModelEntry(
            alias="slow",
            capabilities={"chat", "streaming"},
            deployments=[Deployment(provider="test", model="slow", options={"delay_seconds": 0.3})],
        ),
    ]


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Platform]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        assert settings.auth.bootstrap_admin_key is not None
        yield Platform(app, settings.auth.bootstrap_admin_key.get_secret_value())


def governed(settings: Settings, database_url: str) -> Settings:
    """The shared test settings on the given database, with priced and slow models and
    fast change polling and ledger flushing."""
    settings.database_url = database_url
    settings.models = [*settings.models, *priced_models()]
    settings.governance.change_poll_seconds = 0.2
    settings.governance.ledger_flush_seconds = 0.1
    return settings


async def clear_of_minute_boundary(margin: float = 10.0) -> None:
    """Rate limits count per UTC minute (fixed windows): a test that needs one window waits
    until the current minute has at least ``margin`` seconds left."""
    left = 60 - time.time() % 60
    if left < margin:
        await asyncio.sleep(left + 0.05)
