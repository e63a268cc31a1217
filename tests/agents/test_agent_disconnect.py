"""A client that hangs up on a streamed run stops it and the model call under it: the run is
recorded ``cancelled`` and the usage ledger still has the call's row (settled as cut short),
over a real loopback server."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
from agents_harness import agent_settings

from agentic_platform.app import create_app
from agentic_platform.testing.server import serve_in_thread


async def _member(http: httpx.AsyncClient) -> str:
    principal = (await http.post("/admin/v1/principals", json={"name": "carol"})).json()
    key = await http.post("/admin/v1/keys", json={"principal_id": principal["id"], "name": "c"})
    return str(key.json()["secret"])


async def _eventually(probe: Any, seconds: float = 15.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = await probe()
        if found or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.1)


async def test_hanging_up_cancels_the_run_and_meters_the_call(
    tmp_path: Path, admin_key: str
) -> None:
    settings = agent_settings(
        tmp_path, admin_key, f"sqlite+aiosqlite:///{tmp_path / 'p.db'}", default_model="slow-bot"
    )
    with serve_in_thread(create_app(settings)) as url:
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=30
        ) as admin:
            key = await _member(admin)
            user = httpx.AsyncClient(
                base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30
            )
            async with user:
                started = time.monotonic()
                body = {"message": "one two three four five"}
                async with user.stream("POST", "/agents/v1/diy-agent/stream", json=body) as live:
                    async for line in live.aiter_lines():
                        if line.startswith("data: "):
                            first = orjson.loads(line[len("data: ") :])
                            break
                assert first["type"] == "run_started"

                async def cancelled() -> dict[str, Any] | None:
                    runs = (await user.get("/agents/v1/runs")).json()["data"]
                    return runs[0] if runs and runs[0]["status"] != "running" else None

                run = await _eventually(cancelled)
                assert run is not None and run["id"] == first["run_id"]
                assert run["status"] == "cancelled" and run["error_code"] == "cancelled"
                assert time.monotonic() - started < 8  # not the 12 s the full answer takes

                async def metered() -> list[dict[str, Any]]:
                    page = (await admin.get("/admin/v1/usage/records")).json()["records"]
                    return [row for row in page if row["model"] == "slow-bot"]

                [row] = await _eventually(metered)
                assert row["status"] == 499 and row["streamed"] is True
                assert row["input_tokens"] > 0
