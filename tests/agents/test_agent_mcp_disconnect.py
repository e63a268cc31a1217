"""An MCP client that goes away while an ``agent_<name>`` tool runs cancels the run: it is
recorded ``cancelled`` and the model call under it is cut short and still metered, over a
real loopback server with the official MCP client, on both of its wire versions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from agents_harness import agent_settings
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from agentic_platform.app import create_app
from agentic_platform.testing.server import serve_in_thread


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, admin_key: str) -> Iterator[str]:
    data = tmp_path_factory.mktemp("mcp-hangup")
    settings = agent_settings(
        data, admin_key, f"sqlite+aiosqlite:///{Path(data) / 'p.db'}", default_model="slow-bot"
    )
    with serve_in_thread(create_app(settings)) as url:
        yield url


def _user_key(base_url: str, admin_key: str, name: str) -> str:
    headers = {"Authorization": f"Bearer {admin_key}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as admin:
        principal = admin.post("/admin/v1/principals", json={"name": name}).json()
        key = admin.post("/admin/v1/keys", json={"principal_id": principal["id"]})
        assert key.status_code == 201, key.text
        return str(key.json()["secret"])


async def _eventually(probe: Callable[[], Awaitable[Any]], seconds: float = 15.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = await probe()
        if found or time.monotonic() > deadline:
            assert found, "gave up waiting"
            return found
        await asyncio.sleep(0.1)


async def _hang_up_during(base_url: str, key: str, mode: str) -> None:
    """Call the agent tool and go away after half a second (the answer takes two)."""
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
        transport = streamable_http_client(f"{base_url}/mcp", http_client=http)
        async with Client(transport, mode=mode) as client:
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.5):
                    await client.call_tool(
                        "agent_diy-agent", {"message": "one two three four five"}
                    )


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_an_mcp_client_hanging_up_cancels_the_agent_run(
    served: str, admin_key: str, mode: str
) -> None:
    key = _user_key(served, admin_key, f"mcp-{mode}")
    await _hang_up_during(served, key, mode)
    auth = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=served, headers=auth, timeout=30) as user:

        async def finished() -> dict[str, Any] | None:
            runs = (await user.get("/agents/v1/runs")).json()["data"]
            return runs[0] if runs and runs[0]["status"] != "running" else None

        run = await _eventually(finished)
    assert run["agent"] == "diy-agent"
    assert run["status"] == "cancelled" and run["error_code"] == "cancelled"
    headers = {"Authorization": f"Bearer {admin_key}"}
    async with httpx.AsyncClient(base_url=served, headers=headers, timeout=30) as admin:

        async def metered() -> list[dict[str, Any]] | None:
            page = (await admin.get("/admin/v1/usage/records")).json()["records"]
            rows = [
                r for r in page if r["model"] == "slow-bot" and r["principal_id"] == run["user_id"]
            ]
            return rows or None

        [row] = await _eventually(metered)
    assert row["status"] == 499
