"""A client that hangs up stops its run and the model call under it: the run is recorded
``cancelled`` and the usage ledger still has the call's row (settled as cut short or
abandoned), over a real loopback server, for a stream and for a plain invocation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import pytest_asyncio
from agents_harness import agent_settings

from agentic_platform.app import create_app
from agentic_platform.testing.server import serve_in_thread

pytestmark = pytest.mark.asyncio(loop_scope="module")


class Served:
    def __init__(self, admin: httpx.AsyncClient, user: httpx.AsyncClient) -> None:
        self.admin = admin
        self.user = user

    async def finished_run(self) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            runs = (await self.user.get("/agents/v1/runs")).json()["data"]
            return runs[0] if runs and runs[0]["status"] != "running" else None

        return dict(await _eventually(probe))

    async def slow_rows(self, count: int) -> list[dict[str, Any]]:
        async def probe() -> list[dict[str, Any]] | None:
            page = (await self.admin.get("/admin/v1/usage/records")).json()["records"]
            rows = [row for row in page if row["model"] == "slow-bot"]
            return rows if len(rows) >= count else None

        return list(await _eventually(probe))


async def _eventually(probe: Callable[[], Awaitable[Any]], seconds: float = 15.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = await probe()
        if found or time.monotonic() > deadline:
            assert found, "gave up waiting"
            return found
        await asyncio.sleep(0.1)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served(tmp_path_factory: pytest.TempPathFactory, admin_key: str) -> AsyncIterator[Served]:
    data = tmp_path_factory.mktemp("agents-hangup")
    settings = agent_settings(
        data, admin_key, f"sqlite+aiosqlite:///{Path(data) / 'p.db'}", default_model="slow-bot"
    )
    with serve_in_thread(create_app(settings)) as url:
        headers = {"Authorization": f"Bearer {admin_key}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as admin:
            principal = (await admin.post("/admin/v1/principals", json={"name": "c"})).json()
            key = await admin.post("/admin/v1/keys", json={"principal_id": principal["id"]})
            auth = {"Authorization": f"Bearer {key.json()['secret']}"}
            async with httpx.AsyncClient(base_url=url, headers=auth, timeout=30) as user:
                yield Served(admin, user)


async def test_hanging_up_on_a_stream_cancels_the_run_and_meters_the_call(
    served: Served,
) -> None:
    started = time.monotonic()
    body = {"message": "one two three four five"}
    async with served.user.stream("POST", "/agents/v1/diy-agent/stream", json=body) as live:
        async for line in live.aiter_lines():
            if line.startswith("data: "):
                first = orjson.loads(line[len("data: ") :])
                break
    assert first["type"] == "run_started"
    run = await served.finished_run()
    assert run["id"] == first["run_id"]
    assert run["status"] == "cancelled" and run["error_code"] == "cancelled"
    assert time.monotonic() - started < 8  # not the 12 s the full answer takes
    [row] = await served.slow_rows(1)
    assert row["status"] == 499 and row["streamed"] is True
    assert row["input_tokens"] > 0


async def test_hanging_up_on_an_invocation_cancels_the_run_and_meters_the_call(
    served: Served,
) -> None:
    with pytest.raises(httpx.ReadTimeout):
        await served.user.post(
            "/agents/v1/diy-agent/invoke", json={"message": "one two three"}, timeout=0.5
        )
    run = await served.finished_run()
    assert run["status"] == "cancelled"
    rows = await served.slow_rows(2)
    plain = [row for row in rows if row["streamed"] is False]
    assert [row["status"] for row in plain] == [499]
    assert plain[0]["error_type"] == "client_disconnected"


@pytest.mark.parametrize("agent", ["pydanticai-agent", "langgraph-chat"])
async def test_hanging_up_cancels_a_framework_agents_run_and_its_model_call(
    served: Served, agent: str
) -> None:
    before = len(await served.slow_rows(1))
    started = time.monotonic()
    body = {"message": "one two three four five"}
    events = []
    async with served.user.stream("POST", f"/agents/v1/{agent}/stream", json=body) as live:
        async for line in live.aiter_lines():
            if line.startswith("data: "):
                events.append(orjson.loads(line[len("data: ") :]))
                if events[-1]["type"] == "text_delta":  # the model call is under way
                    break
    assert events[-1]["text"].strip() == "one"
    run = await served.finished_run()
    assert run["id"] == events[0]["run_id"] and run["agent"] == agent
    assert run["status"] == "cancelled" and run["error_code"] == "cancelled"
    assert time.monotonic() - started < 8
    rows = await served.slow_rows(before + 1)
    assert rows[0]["status"] == 499 and rows[0]["streamed"] is True
