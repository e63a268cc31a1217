"""``agentic serve llm-gateway`` in a process of its own on a loopback port, to be stopped
the way a machine stops it: SIGTERM, or SIGKILL with no warning."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from agentic_platform.llm_gateway.catalog import Deployment, ModelEntry
from agentic_platform.testing.catalog import scripted_models
from agentic_platform.testing.process import PlatformProcess

SLOW_SECONDS = 3.0


def _models() -> list[ModelEntry]:
    slow = ModelEntry(
        alias="slow",
        capabilities={"chat", "streaming"},
        deployments=[
            Deployment(provider="test", model="slow", options={"delay_seconds": SLOW_SECONDS})
        ],
    )
    return [*scripted_models(), slow]


class GatewayProcess(PlatformProcess):
    """One run of the gateway; ``start`` again for a restart on the same data."""

    def __init__(self, work: Path, database_url: str, admin_key: str, **settings: str) -> None:
        super().__init__(work, database_url, admin_key, _models(), **settings)

    async def chats(self, count: int, model: str = "echo") -> list[httpx.Response]:
        """``count`` chat completions at once, every fourth one streamed (read to the end)."""
        async with self.client() as http:

            async def one(index: int) -> httpx.Response:
                body: dict[str, Any] = {
                    "model": model,
                    "messages": [{"role": "user", "content": f"hello {index}"}],
                    "stream": index % 4 == 0,
                }
                response = await http.post("/llm/v1/chat/completions", json=body)
                await response.aread()
                return response

            return list(await asyncio.gather(*(one(i) for i in range(count))))

    async def usage_records(self) -> list[dict[str, Any]]:
        async with self.client() as http:
            response = await http.get("/admin/v1/usage/records", params={"limit": 10_000})
        assert response.status_code == 200, response.text
        records: list[dict[str, Any]] = response.json()["records"]
        return records

    def journal_files(self) -> list[str]:
        directory = self.work / "data" / "journal"
        return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


async def count_usage_rows(database_url: str) -> int:
    """Straight from the table, without the platform."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            return int(
                (await connection.execute(text("SELECT count(*) FROM usage_records"))).scalar_one()
            )
    finally:
        await engine.dispose()
