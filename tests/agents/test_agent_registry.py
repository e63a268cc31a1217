"""Which agents a process hosts: built-ins, a team's module path, a team's entry point, and
``agents.only``; every mistake stops the start-up with a message naming it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from agents_harness import agent_settings, running

from agentic_platform.agents import registry as agent_registry
from agentic_platform.agents.registry import ENTRY_POINT_GROUP, load_registry
from agentic_platform.errors import ConfigurationError
from agentic_platform.settings import AgentsSettings


def test_built_ins_and_a_module_path() -> None:
    registry = load_registry(AgentsSettings(modules=["team_agent:make_agent"]))
    assert {"diy-agent", "team-shout"} <= {agent.name for agent in registry}


def test_only_keeps_one_agent() -> None:
    registry = load_registry(AgentsSettings(modules=["team_agent:make_agent"], only="team-shout"))
    assert [agent.name for agent in registry] == ["team-shout"]
    with pytest.raises(ConfigurationError, match=r"AGENTIC_AGENTS__ONLY names 'nobody'.*diy-agent"):
        load_registry(AgentsSettings(only="nobody"))


def test_only_a_built_in_imports_no_other(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(agent_registry.BUILTIN_AGENTS, "routing", "no_such_module:make")
    only = load_registry(AgentsSettings(only="diy-agent"))
    assert [agent.name for agent in only] == ["diy-agent"]
    with pytest.raises(ModuleNotFoundError):
        load_registry(AgentsSettings())


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("team_agent", "must look like 'package.module:factory'"),
        ("no_such_module:make", "cannot import 'no_such_module'"),
        ("team_agent:missing", "'team_agent' has no 'missing'"),
        ("team_agent:NotAnAgent", "did not give an agent"),
        ("team_agent:failing_factory", "failed: RuntimeError: cannot build"),
        ("team_agent:UnknownToolAgent", "names unknown tools ['teleport']"),
        ("agentic_platform.agents.diy.agent:DiyAgent", "'diy-agent' already exists"),
    ],
)
def test_a_bad_module_path_stops_the_start(path: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_registry(AgentsSettings(modules=[path]))


@pytest.fixture
def installed_team_package(tmp_path: Path) -> Iterator[None]:
    """A distribution on sys.path declaring the team's agent as an entry point."""
    info = tmp_path / "team_agents-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: team-agents\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\nteam-shout = team_agent:make_agent\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        yield
    finally:
        sys.path.remove(str(tmp_path))


def test_an_entry_point_is_hosted(installed_team_package: None) -> None:
    names = [agent.name for agent in load_registry(AgentsSettings())]
    assert "team-shout" in names
    assert "team-shout" not in [a.name for a in load_registry(AgentsSettings(entry_points=False))]


async def test_a_team_agent_answers_through_the_api(tmp_path: Path, admin_key: str) -> None:
    settings = agent_settings(
        tmp_path,
        admin_key,
        f"sqlite+aiosqlite:///{tmp_path / 'platform.db'}",
        modules=["team_agent:make_agent"],
        only="team-shout",
        default_model="echo",
    )
    async with running(settings) as platform:
        alice = await platform.user("alice")
        listed = (await alice.call("GET", "")).json()["data"]
        assert [card["name"] for card in listed] == ["team-shout"]
        answer = await alice.ok("team-shout", message="hello there")
        assert answer["output"] == "HELLO THERE"
        assert (await alice.invoke("diy-agent", message="hi")).status_code == 404


async def test_an_sdk_agent_reaches_the_gateway_as_the_user(tmp_path: Path, admin_key: str) -> None:
    settings = agent_settings(
        tmp_path,
        admin_key,
        f"sqlite+aiosqlite:///{tmp_path / 'platform.db'}",
        modules=["team_agent:SdkAgent"],
        default_model="echo",
    )
    async with running(settings) as platform:
        alice = await platform.user("alice")
        answer = await alice.ok("team-sdk", message="through the sdk")
        assert answer["output"] == "through the sdk"
        [step] = answer["steps"]
        assert step["kind"] == "model" and step["usage"]["total_tokens"] > 0
        await platform.state.metering.ledger.flush()
        page = await platform.admin_call(
            "GET", "/admin/v1/usage/records", params={"principal_id": alice.id}
        )
        [row] = [r for r in page["records"] if r["model"] == "echo"]
        assert row["acting_via"] == platform.state.platform_service_id and row["streamed"]
