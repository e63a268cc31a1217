"""Drive a running platform's agent API (in-process transport, real database) as several
users."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
from memory_harness import Platform as MemoryPlatform
from pydantic import SecretStr

from agentic_platform.app import create_app
from agentic_platform.settings import Settings
from agentic_platform.testing.agents import agent_models
from agentic_platform.testing.catalog import scripted_models
from agentic_platform.testing.memory import memory_models

API = "/agents/v1"


def parse_events(body: bytes) -> list[dict[str, Any]]:
    """The events of an SSE body, checking each frame's ``event:`` matches its ``type``."""
    events = []
    for frame in body.decode().split("\n\n"):
        if not frame.strip():
            continue
        lines = dict(line.split(": ", 1) for line in frame.splitlines())
        event = orjson.loads(lines["data"])
        assert lines["event"] == event["type"]
        events.append(event)
    return events


class User:
    def __init__(self, platform: Platform, principal_id: str, secret: str) -> None:
        self.platform = platform
        self.id = principal_id
        self.secret = secret

    def client(self) -> httpx.AsyncClient:
        return self.platform.client(self.secret)

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async with self.client() as http:
            return await http.request(method, f"{API}{path}", **kwargs)

    async def invoke(self, agent: str = "diy-agent", **body: Any) -> httpx.Response:
        return await self.call("POST", f"/{agent}/invoke", json=body)

    async def ok(self, agent: str = "diy-agent", **body: Any) -> dict[str, Any]:
        response = await self.invoke(agent, **body)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def stream(self, agent: str = "diy-agent", **body: Any) -> list[dict[str, Any]]:
        response = await self.call("POST", f"/{agent}/stream", json=body)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/event-stream")
        return parse_events(response.content)


class Platform(MemoryPlatform):
    """The memory harness's platform, with users that speak to the agent API."""

    async def user(self, name: str = "user", **principal: Any) -> User:  # type: ignore[override]
        created = await super().user(name, **principal)
        return User(self, created.id, created.secret)

    async def admin(self) -> User:  # type: ignore[override]
        me = await self.admin_call("GET", "/admin/v1/me")
        return User(self, me["principal"]["id"], self.admin_key)

    @property
    def state(self) -> Any:
        return self.app.state.platform

    @contextmanager
    def agent_model(self, agent: str, model: str) -> Iterator[None]:
        """Point ``agent`` at another model for the duration."""
        models = self.state.settings.agents.agent_models
        models[agent] = model
        try:
            yield
        finally:
            del models[agent]


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Platform]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        assert settings.auth.bootstrap_admin_key is not None
        yield Platform(app, settings.auth.bootstrap_admin_key.get_secret_value())


def agent_settings(data_dir: Path, admin_key: str, database_url: str, **agents: Any) -> Settings:
    """llm-gateway, memory and agents on ``database_url``, the scripted catalog, the
    in-process memory index; ``agents`` overrides agent settings."""
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        models=[*scripted_models(), *memory_models(), *agent_models()],
        auth={"bootstrap_admin_key": SecretStr(admin_key)},  # type: ignore[arg-type]
        log_requests=False,
        services=["llm-gateway", "memory", "agents"],
        memory={  # type: ignore[arg-type]
            "embedding_model": "test-embed",
            "extraction_model": None,
            "search_backend": "memory",
            "worker_poll_seconds": 0.2,
        },
        agents={"default_model": "calc-bot", **agents},  # type: ignore[arg-type]
        governance={"ledger_flush_seconds": 0.1},  # type: ignore[arg-type]
    )
