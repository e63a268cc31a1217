"""``agentic serve llm-gateway`` in a process of its own on a loopback port, to be stopped
the way a machine stops it: SIGTERM, or SIGKILL with no warning."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from agentic_platform.llm_gateway.catalog import Deployment, ModelEntry
from agentic_platform.testing.catalog import scripted_models
from agentic_platform.testing.redis_server import free_port

SLOW_SECONDS = 3.0


def _catalog() -> str:
    slow = ModelEntry(
        alias="slow",
        capabilities={"chat", "streaming"},
        deployments=[
            Deployment(provider="test", model="slow", options={"delay_seconds": SLOW_SECONDS})
        ],
    )
    return json.dumps([m.model_dump(mode="json") for m in [*scripted_models(), slow]])


class GatewayProcess:
    """One run of the server; ``start`` again for a restart on the same data."""

    def __init__(self, work: Path, database_url: str, admin_key: str, **settings: str) -> None:
        self.work = work
        self.admin_key = admin_key
        self.port = free_port()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AGENTIC_")},
            "AGENTIC_DATA_DIR": str(work / "data"),
            "AGENTIC_DATABASE_URL": database_url,
            "AGENTIC_MODELS": _catalog(),
            "AGENTIC_AUTH__BOOTSTRAP_ADMIN_KEY": admin_key,
            "AGENTIC_HOST": "127.0.0.1",
            "AGENTIC_PORT": str(self.port),
            "AGENTIC_LOG_REQUESTS": "false",
            **settings,
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.runs = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.work / f"gateway-{self.runs}.log"

    def launch(self) -> subprocess.Popen[bytes]:
        self.runs += 1
        agentic = Path(sys.executable).with_name("agentic")
        with self.log.open("wb") as sink:
            self.process = subprocess.Popen(
                [str(agentic), "serve", "llm-gateway"],
                env=self.env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        return self.process

    async def start(self, within: float = 60) -> None:
        process = self.launch()
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(base_url=self.url) as http:
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    raise RuntimeError(f"the gateway exited:\n{self.log.read_text()[-3000:]}")
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise TimeoutError(f"the gateway did not start:\n{self.log.read_text()[-3000:]}")

    def signal(self, number: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(number)

    def wait(self, timeout: float = 60) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.admin_key}"},
            timeout=60,
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=None),
        )

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
