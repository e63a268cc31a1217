"""The platform in a process of its own on a loopback port, to be stopped the way a machine
stops it: SIGTERM, or SIGKILL with no warning. ``start`` again for a restart on the same
data directory and database."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from agentic_platform.llm_gateway.catalog import ModelEntry
from agentic_platform.testing.redis_server import free_port


def catalog_json(models: Sequence[ModelEntry]) -> str:
    """A model catalog as ``AGENTIC_MODELS`` takes it."""
    return json.dumps([model.model_dump(mode="json") for model in models])


class PlatformProcess:
    """One ``agentic`` command (``serve llm-gateway``, ``up``, …) run as a server; settings
    are ``AGENTIC_*`` environment variables (the caller's own are not inherited)."""

    def __init__(
        self,
        work: Path,
        database_url: str,
        admin_key: str,
        models: Sequence[ModelEntry],
        *,
        command: Sequence[str] = ("serve", "llm-gateway"),
        **settings: str,
    ) -> None:
        self.work = work
        self.admin_key = admin_key
        self.command = list(command)
        self.port = free_port()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AGENTIC_")},
            "AGENTIC_DATA_DIR": str(work / "data"),
            "AGENTIC_DATABASE_URL": database_url,
            "AGENTIC_MODELS": catalog_json(models),
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
        """The output of the latest run."""
        return self.work / f"{self.command[-1]}-{self.runs}.log"

    def launch(self) -> subprocess.Popen[bytes]:
        self.runs += 1
        agentic = Path(sys.executable).with_name("agentic")
        with self.log.open("wb") as sink:
            self.process = subprocess.Popen(  # noqa: S603 - our own executable
                [str(agentic), *self.command],
                env=self.env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        return self.process

    async def start(self, within: float = 60) -> None:
        """Launch and wait until ``/healthz`` answers."""
        process = self.launch()
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(base_url=self.url) as http:
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    raise RuntimeError(f"the server exited:\n{self.log.read_text()[-3000:]}")
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise TimeoutError(f"the server did not start:\n{self.log.read_text()[-3000:]}")

    def signal(self, number: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(number)

    def wait(self, timeout: float = 60) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def stop(self) -> None:
        """Kill it if it still runs (the end of a test)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def client(self) -> httpx.AsyncClient:
        """An HTTP client as the admin."""
        return httpx.AsyncClient(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.admin_key}"},
            timeout=60,
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=None),
        )
