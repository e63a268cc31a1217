"""MCP servers as agent tools: the diy-agent, driven by the scripted ``tool-bot``, calls a real
MCP server over stdio (a child process) and over streamable HTTP (a server on loopback);
a tool that hangs or fails gives the model an error and the run still finishes."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import pytest_asyncio
from agents_harness import Platform, agent_settings, running
from mcp_tool_server import TOOL_BOT, http_app
from pydantic import ValidationError

from agentic_platform.agents.tools.mcp.settings import McpServerSettings
from agentic_platform.agents.tools.mcp.tools import tool_name
from agentic_platform.testing.server import serve_in_thread

SERVER_SCRIPT = str(Path(__file__).parent / "mcp_tool_server.py")


@pytest.fixture(scope="module")
def mcp_url() -> Iterator[str]:
    with serve_in_thread(http_app()) as base:
        yield f"{base}/mcp"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(
    tmp_path_factory: pytest.TempPathFactory, admin_key: str, mcp_url: str
) -> AsyncIterator[Platform]:
    data = tmp_path_factory.mktemp("mcp")
    settings = agent_settings(
        data,
        admin_key,
        f"sqlite+aiosqlite:///{data / 'platform.db'}",
        default_model="tool-bot",
        tool_timeout_seconds=1.0,
        mcp_servers=[
            {
                "name": "local",
                "transport": "stdio",
                "command": sys.executable,
                "args": [SERVER_SCRIPT],
            },
            {"name": "remote", "transport": "http", "url": mcp_url, "headers": {"X-Team": "blue"}},
            {
                "name": "nowhere",
                "transport": "http",
                "url": "http://127.0.0.1:9/mcp",
                "timeout_seconds": 2,
            },
            {
                "name": "elsewhere",
                "transport": "stdio",
                "command": sys.executable,
                "args": [SERVER_SCRIPT],
                "agents": ["some-other-agent"],
            },
        ],
    )
    settings.models.append(TOOL_BOT)
    async with running(settings) as started:
        yield started


def _ask(tool: str, **arguments: Any) -> str:
    return orjson.dumps({"tool": tool, "arguments": arguments}).decode()


@pytest.mark.parametrize("server", ["local", "remote"])
async def test_an_mcp_tool_answers_the_model(platform: Platform, server: str) -> None:
    alice = await platform.user("alice")
    answer = await alice.ok(message=_ask(f"{server}__add", a=2, b=40))
    assert answer["output"] == "Result: 42"
    [call] = answer["tool_calls"]
    assert call["name"] == f"{server}__add" and not call["is_error"]
    assert [step["kind"] for step in answer["steps"]] == ["model", "tool", "model"]


async def test_the_offered_tools_are_the_reachable_servers_for_this_agent(
    platform: Platform,
) -> None:
    alice = await platform.user("alice")
    answer = await alice.ok(message=_ask("elsewhere__add", a=1, b=1))
    offered = answer["output"].split("the tools are: ")[1].split(", ")
    assert {"local__add", "local__hang", "remote__add", "remote__fail", "calculator"} <= set(
        offered
    )
    assert not [name for name in offered if name.startswith(("elsewhere__", "nowhere__"))]


@pytest.mark.parametrize("server", ["local", "remote"])
async def test_a_server_that_announces_new_tools_has_them_offered_next_run(
    platform: Platform, server: str
) -> None:
    alice = await platform.user("alice")
    before = await alice.ok(message=_ask(f"{server}__multiply", a=6, b=7))
    assert before["output"].startswith(f"Not offered: {server}__multiply")
    learned = await alice.ok(message=_ask(f"{server}__learn"))
    assert learned["output"] == "Result: learned"
    after = await alice.ok(message=_ask(f"{server}__multiply", a=6, b=7))
    assert after["output"] == "Result: 42"


@pytest.mark.parametrize("server", ["local", "remote"])
async def test_a_hanging_mcp_tool_times_out_and_the_run_finishes(
    platform: Platform, server: str
) -> None:
    alice = await platform.user("alice")
    answer = await alice.ok(message=_ask(f"{server}__hang"))
    error = f"the tool '{server}__hang' did not answer within 1 seconds"
    assert answer["output"] == f"Result: {orjson.dumps({'error': error}).decode()}"
    [call] = answer["tool_calls"]
    assert call["is_error"] and 1000 <= call["duration_ms"] < 5000
    again = await alice.ok(message=_ask(f"{server}__add", a=1, b=2))
    assert again["output"] == "Result: 3"


async def test_a_failing_mcp_tool_gives_the_model_its_error(platform: Platform) -> None:
    alice = await platform.user("alice")
    answer = await alice.ok(message=_ask("remote__fail"))
    [call] = answer["tool_calls"]
    assert call["is_error"]
    assert orjson.loads(call["result"])["error"].startswith("the tool 'remote__fail' failed: ")
    assert "the disk is full" in call["result"]
    wrong = await alice.ok(message=_ask("local__add", a="two", b=1))
    assert wrong["tool_calls"][0]["is_error"]


async def test_a_streamed_run_sends_the_mcp_tool_call_events(platform: Platform) -> None:
    alice = await platform.user("alice")
    events = await alice.stream(message=_ask("local__add", a=5, b=5))
    [finished] = [event for event in events if event["type"] == "tool_call_finished"]
    assert finished["name"] == "local__add" and finished["result"] == "10"
    assert events[-1]["type"] == "run_finished" and events[-1]["output"] == "Result: 10"


def test_tool_names_fit_the_chat_api() -> None:
    assert tool_name("files", "read.file v2") == "files__read_file_v2"
    assert len(tool_name("files", "x" * 100)) == 64


@pytest.mark.parametrize(
    ("server", "message"),
    [
        ({"name": "a", "transport": "stdio"}, "transport 'stdio' needs 'command'"),
        ({"name": "a", "transport": "http"}, "transport 'http' needs 'url'"),
        (
            {"name": "a", "transport": "http", "url": "http://x/mcp", "command": "x"},
            "'command', 'args' and 'env' are for transport 'stdio'",
        ),
        ({"name": "A b", "transport": "stdio", "command": "x"}, "should match pattern"),
        ({"name": "a", "transport": "ws", "url": "ws://x"}, "'stdio' or 'http'"),
    ],
)
def test_mcp_server_settings_say_what_to_fix(server: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        McpServerSettings.model_validate(server)


async def test_a_stdio_server_that_crashed_is_started_again(platform: Platform) -> None:
    alice = await platform.user("alice")
    crashed = await alice.ok(message=_ask("local__crash"))
    [call] = crashed["tool_calls"]
    assert call["is_error"] and "the connection to the MCP server 'local' broke" in call["result"]
    again = await alice.ok(message=_ask("local__add", a=20, b=22))
    assert again["output"] == "Result: 42"
