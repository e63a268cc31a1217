"""Drive a running platform's memory gateway (in-process transport, real database) as several
principals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import SecretStr

from agentic_platform.app import create_app
from agentic_platform.llm_gateway.catalog import ModelEntry, default_models
from agentic_platform.memory.service import MemoryGateway
from agentic_platform.settings import Settings
from agentic_platform.testing.catalog import scripted_models
from agentic_platform.testing.memory import memory_models

API = "/memory/v1"


class User:
    """A principal with a key, and a client that speaks as them."""

    def __init__(self, platform: Platform, principal_id: str, secret: str) -> None:
        self.platform = platform
        self.id = principal_id
        self.secret = secret

    def client(self, **headers: str) -> httpx.AsyncClient:
        return self.platform.client(self.secret, **headers)

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async with self.client() as http:
            return await http.request(method, f"{API}{path}", **kwargs)

    async def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.call(method, path, **kwargs)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    async def session(self, agent_id: str = "helper", **metadata: Any) -> str:
        created = await self.ok(
            "POST", "/sessions", json={"agent_id": agent_id, "metadata": metadata}
        )
        return str(created["id"])

    async def say(
        self, session_id: str, *contents: str, role: str = "user", **extra: Any
    ) -> list[Any]:
        return [
            await self.ok(
                "POST",
                f"/sessions/{session_id}/messages",
                json={"role": role, "content": content, **extra},
            )
            for content in contents
        ]

    async def search(self, query: str, **body: Any) -> list[dict[str, Any]]:
        found = await self.ok("POST", "/memories/search", json={"query": query, **body})
        return list(found["data"])


class Platform:
    def __init__(self, app: FastAPI, admin_key: str) -> None:
        self.app = app
        self.admin_key = admin_key
        self._users = 0

    def client(self, key: str, **headers: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url="http://platform",
            headers={"Authorization": f"Bearer {key}", **headers},
            timeout=30,
        )

    async def admin_call(self, method: str, path: str, **kwargs: Any) -> Any:
        async with self.client(self.admin_key) as http:
            response = await http.request(method, path, **kwargs)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    async def user(self, name: str = "user", **principal: Any) -> User:
        self._users += 1
        created = await self.admin_call(
            "POST", "/admin/v1/principals", json={"name": f"{name}-{self._users}", **principal}
        )
        key = await self.admin_call(
            "POST", "/admin/v1/keys", json={"principal_id": created["id"], "name": name}
        )
        return User(self, created["id"], key["secret"])

    async def admin(self) -> User:
        me = await self.admin_call("GET", "/admin/v1/me")
        return User(self, me["principal"]["id"], self.admin_key)

    @property
    def memory(self) -> MemoryGateway:
        gateway = self.app.state.platform.memory
        assert gateway is not None
        return gateway

    async def worker_stopped(self) -> None:
        """Stop the background worker: from now on turns stay unindexed until a test indexes
        them (the platform's shutdown closes it again, harmlessly)."""
        await self.memory.worker.aclose()

    async def settle(self) -> None:
        """Wait until the worker has indexed (and extracted) everything it was told about."""
        async with asyncio.timeout(30):
            await self.memory.worker.drain()


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Platform]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        assert settings.auth.bootstrap_admin_key is not None
        yield Platform(app, settings.auth.bootstrap_admin_key.get_secret_value())


def packaged_embedder() -> list[ModelEntry]:
    """The packaged MiniLM embedder (loaded only if a test uses it)."""
    return [entry for entry in default_models() if entry.kind == "embedding"]


def memory_settings(
    data_dir: Path, admin_key: str, backend: tuple[str, str | None], **memory: object
) -> Settings:
    database_url, pgvector_url = backend
    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        models=[*scripted_models(), *memory_models(), *packaged_embedder()],
        auth={"bootstrap_admin_key": SecretStr(admin_key)},  # type: ignore[arg-type]
        log_requests=False,
        services=["llm-gateway", "memory"],
        memory={  # type: ignore[arg-type]
            "embedding_model": "test-embed",
            "extraction_model": None,
            "search_backend": "pgvector" if pgvector_url else "sqlite",
            "pgvector_url": pgvector_url,
            "worker_poll_seconds": 0.2,
            **memory,
        },
    )
    return settings
