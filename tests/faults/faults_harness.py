"""Shared parts of the fault tests: a platform on a real port with its ledger on SQLite,
the ledger rows it wrote, and load sent through the official OpenAI SDK."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai

from agentic_platform.app import create_app
from agentic_platform.settings import Settings
from agentic_platform.testing.server import serve_in_thread

PING = [{"role": "user", "content": "ping"}]


@dataclass
class Served:
    """A running platform: its base URL, the admin key and the SQLite file of its ledger."""

    url: str
    key: str
    database: Path

    def client(self, timeout: float = 20.0) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            base_url=f"{self.url}/llm/v1", api_key=self.key, max_retries=0, timeout=timeout
        )


@contextmanager
def serving(settings: Settings, key: str, *, gateway_only: bool = True) -> Iterator[Served]:
    """Serve ``settings`` on a loopback port with the ledger on a SQLite file; on exit the
    server shuts down cleanly, so every usage row has been written."""
    database = settings.data_dir / "ledger.db"
    settings.database_url = f"sqlite+aiosqlite:///{database}"
    settings.governance.ledger_flush_seconds = 0.05
    if gateway_only:
        settings.services = ["llm-gateway"]
    with serve_in_thread(create_app(settings)) as url:
        yield Served(url, key, database)


def ledger_rows(database: Path) -> list[dict[str, Any]]:
    """Every usage row, oldest first (read after the server has stopped)."""
    with sqlite3.connect(database) as connection:
        connection.row_factory = sqlite3.Row
        rows = connection.execute("SELECT * FROM usage_records ORDER BY time").fetchall()
    return [dict(row) for row in rows]


async def read_stream(stream: openai.AsyncStream[Any]) -> str:
    """The text of a streamed answer (raises what the SDK raises on an error event)."""
    parts: list[str] = []
    async for chunk in stream:
        if chunk.choices:
            parts.append(chunk.choices[0].delta.content or "")
    return "".join(parts)


async def gather_all(*calls: Any) -> list[Any]:
    """Run ``calls`` at once; each result or the exception it raised."""
    return await asyncio.gather(*calls, return_exceptions=True)
