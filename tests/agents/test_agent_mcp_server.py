"""The platform as an MCP server: the official MCP client over streamable HTTP against a real
server on loopback, as two users of two teams. Tools are scoped to the caller (knowledge
bases, memory), agents run as recorded runs, and a call without a key is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import httpx2
import mcp_types
import pytest
from agents_harness import agent_settings
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client

from agentic_platform.app import create_app
from agentic_platform.testing.server import serve_in_thread


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory, admin_key: str) -> Iterator[str]:
    data = tmp_path_factory.mktemp("mcp-server")
    settings = agent_settings(data, admin_key, f"sqlite+aiosqlite:///{data / 'platform.db'}")
    settings.services = ["llm-gateway", "memory", "retrieval", "agents"]
    settings.retrieval.default_embedding_model = "test-embed"
    with serve_in_thread(create_app(settings)) as url:
        yield url


def _admin(base_url: str, admin_key: str) -> httpx.Client:
    return httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=30
    )


def _user(base_url: str, admin_key: str, name: str, team: str) -> tuple[str, str]:
    """A member of ``team``: (principal id, API key)."""
    with _admin(base_url, admin_key) as admin:
        made = admin.post("/admin/v1/teams", json={"name": team})
        assert made.status_code == 201, made.text
        created = admin.post(
            "/admin/v1/principals", json={"name": name, "team_id": made.json()["id"]}
        )
        assert created.status_code == 201, created.text
        key = admin.post(
            "/admin/v1/keys", json={"principal_id": created.json()["id"], "name": name}
        )
        assert key.status_code == 201, key.text
    return created.json()["id"], key.json()["secret"]


@asynccontextmanager
async def connected(base_url: str, key: str, mode: str = "auto") -> AsyncIterator[Client]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
        transport = streamable_http_client(f"{base_url}/mcp", http_client=http)
        async with Client(transport, mode=mode) as client:
            yield client


def _text(result: mcp_types.CallToolResult) -> str:
    assert result.content and isinstance(result.content[0], mcp_types.TextContent)
    return result.content[0].text


async def _tools(client: Client) -> dict[str, mcp_types.Tool]:
    return {tool.name: tool for tool in (await client.list_tools()).tools}


@pytest.fixture(scope="module")
def alice(base_url: str, admin_key: str) -> tuple[str, str]:
    return _user(base_url, admin_key, "alice", "team-a")


@pytest.fixture(scope="module")
def bob(base_url: str, admin_key: str) -> tuple[str, str]:
    return _user(base_url, admin_key, "bob", "team-b")


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_the_tools_are_listed_for_the_caller(
    base_url: str, alice: tuple[str, str], mode: str
) -> None:
    async with connected(base_url, alice[1], mode) as client:
        tools = await _tools(client)
    assert {"recall", "remember", "agent_diy-agent"} <= set(tools)
    assert tools["agent_diy-agent"].input_schema["required"] == ["message"]
    assert "search_knowledge_base" not in tools  # alice has no knowledge base yet


async def test_memories_are_the_callers_own(
    base_url: str, alice: tuple[str, str], bob: tuple[str, str]
) -> None:
    async with connected(base_url, alice[1]) as client:
        stored = await client.call_tool("remember", {"text": "Alice's cat is called Miso."})
        assert not stored.is_error, _text(stored)
        found = await client.call_tool("recall", {"query": "what is the cat called"})
    assert "Miso" in _text(found)
    async with connected(base_url, bob[1]) as client:
        other = await client.call_tool("recall", {"query": "what is the cat called"})
    assert not other.is_error and "Miso" not in _text(other)


async def test_an_agent_tool_runs_a_recorded_run_for_the_caller(
    base_url: str, alice: tuple[str, str], bob: tuple[str, str]
) -> None:
    async with connected(base_url, alice[1]) as client:
        result = await client.call_tool("agent_diy-agent", {"message": "17 * 23"})
    assert not result.is_error and _text(result) == "The answer is 391."
    headers = {"Authorization": f"Bearer {alice[1]}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers) as http:
        runs = (await http.get("/agents/v1/runs", params={"agent": "diy-agent"})).json()["data"]
    [run] = runs
    assert run["user_id"] == alice[0] and run["status"] == "succeeded"
    async with httpx.AsyncClient(
        base_url=base_url, headers={"Authorization": f"Bearer {bob[1]}"}
    ) as http:
        assert (await http.get("/agents/v1/runs")).json()["data"] == []


async def test_the_knowledge_base_search_covers_only_the_callers_team(
    base_url: str, alice: tuple[str, str], bob: tuple[str, str]
) -> None:
    headers = {"Authorization": f"Bearer {alice[1]}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as http:
        created = await http.post("/retrieval/v1/knowledge-bases", json={"name": "handbook"})
        assert created.status_code == 201, created.text
        added = await http.post(
            "/retrieval/v1/knowledge-bases/handbook/documents",
            json={"documents": [{"id": "leave", "text": "Staff get thirty days of leave."}]},
        )
        assert added.status_code < 300, added.text
    async with connected(base_url, alice[1]) as client:
        assert "search_knowledge_base" in await _tools(client)
        found = await client.call_tool("search_knowledge_base", {"query": "days of leave"})
    assert not found.is_error and "thirty days" in _text(found)
    async with connected(base_url, bob[1]) as client:
        assert "search_knowledge_base" not in await _tools(client)
        refused = await client.call_tool("search_knowledge_base", {"query": "days of leave"})
    assert refused.is_error and "thirty" not in _text(refused)


async def test_bad_calls_answer_an_error_result(base_url: str, alice: tuple[str, str]) -> None:
    async with connected(base_url, alice[1]) as client:
        unknown = await client.call_tool("agent_no-such-agent", {"message": "hi"})
        missing = await client.call_tool("agent_diy-agent", {})
    assert unknown.is_error and _text(unknown) == "there is no agent 'no-such-agent'"
    assert missing.is_error and "message" in _text(missing)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-key"}, {"x-api-key": "not-a-key"}],
)
def test_a_call_without_a_valid_key_is_refused(base_url: str, headers: dict[str, str]) -> None:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    response = httpx.post(
        f"{base_url}/mcp",
        json=body,
        headers={"Accept": "application/json, text/event-stream", **headers},
    )
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"


async def test_the_mcp_client_with_a_wrong_key_gets_nothing(base_url: str) -> None:
    listed: list[str] = []
    with pytest.raises(BaseExceptionGroup) as refused:
        async with connected(base_url, "wrong") as client:
            listed = [tool.name for tool in (await client.list_tools()).tools]
    assert refused.group_contains(MCPError, depth=None) and listed == []
