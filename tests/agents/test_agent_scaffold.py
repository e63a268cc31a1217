"""``agentic agents new``: the template project of a team's own agent. It is hosted through
the module-path setting by a real platform on loopback and answers over HTTP (events, run
record), its entry point names its factory, its own test passes, and bad names and occupied
directories are refused with a message."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from agents_harness import agent_settings, parse_events
from typer.testing import CliRunner

from agentic_platform.agents.protocol import Agent
from agentic_platform.agents.registry import ENTRY_POINT_GROUP, load_factory, load_registry
from agentic_platform.app import create_app
from agentic_platform.cli import app as cli
from agentic_platform.settings import AgentsSettings
from agentic_platform.testing.server import serve_in_thread

NAME = "ledger-helper"
PACKAGE = "ledger_helper"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The scaffolded project, its ``src`` on ``sys.path`` for the module's tests."""
    directory = tmp_path_factory.mktemp("team") / "ledger"
    result = CliRunner().invoke(cli, ["agents", "new", NAME, "--path", str(directory)])
    assert result.exit_code == 0, result.output
    assert "created ledger/src/ledger_helper/agent.py" in result.output
    sys.path.insert(0, str(directory / "src"))
    try:
        yield directory
    finally:
        sys.path.remove(str(directory / "src"))
        for module in [m for m in sys.modules if m.split(".")[0] == PACKAGE]:
            del sys.modules[module]


def test_the_project_has_its_agent_test_readme_and_entry_point(project: Path) -> None:
    files = {str(path.relative_to(project)) for path in project.rglob("*") if path.is_file()}
    assert files == {
        "pyproject.toml",
        "README.md",
        f"src/{PACKAGE}/__init__.py",
        f"src/{PACKAGE}/agent.py",
        "tests/test_agent.py",
    }
    meta = tomllib.loads((project / "pyproject.toml").read_text())
    assert meta["project"]["name"] == NAME
    target = meta["project"]["entry-points"][ENTRY_POINT_GROUP][NAME]
    factory = load_factory(target)
    assert callable(factory)
    agent = factory()
    assert isinstance(agent, Agent) and agent.name == NAME and agent.tools == ("calculator",)
    assert (
        f"AGENTIC_AGENTS__MODULES='[\"{PACKAGE}.agent:make_agent\"]'"
        in (project / "README.md").read_text()
    )


def test_its_entry_point_is_hosted_once_installed(project: Path, tmp_path: Path) -> None:
    """What installing the project writes for its entry points, from its pyproject."""
    meta = tomllib.loads((project / "pyproject.toml").read_text())
    points = meta["project"]["entry-points"][ENTRY_POINT_GROUP]
    info = tmp_path / f"{PACKAGE}-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {NAME}\nVersion: 0.1.0\n")
    lines = "".join(f"{name} = {target}\n" for name, target in points.items())
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{lines}")
    sys.path.insert(0, str(tmp_path))
    try:
        names = [agent.name for agent in load_registry(AgentsSettings())]
    finally:
        sys.path.remove(str(tmp_path))
    assert NAME in names


def _user_key(http: httpx.Client) -> tuple[str, str]:
    principal = http.post("/admin/v1/principals", json={"name": "ledger-user"}).json()
    key = http.post("/admin/v1/keys", json={"principal_id": principal["id"]})
    assert key.status_code == 201, key.text
    return principal["id"], key.json()["secret"]


def test_the_platform_hosts_it_by_module_path(
    project: Path, tmp_path: Path, admin_key: str
) -> None:
    settings = agent_settings(
        tmp_path,
        admin_key,
        f"sqlite+aiosqlite:///{tmp_path / 'platform.db'}",
        modules=[f"{PACKAGE}.agent:make_agent"],
        default_model="calc-bot",  # calls the calculator on the message, then answers
    )
    with serve_in_thread(create_app(settings)) as url:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin_key}"}) as admin:
            user_id, key = _user_key(admin)
        auth = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=url, headers=auth, timeout=60) as user:
            cards = user.get("/agents/v1").json()["data"]
            assert NAME in [card["name"] for card in cards]
            streamed = user.post(f"/agents/v1/{NAME}/stream", json={"message": "17 * 23"})
            assert streamed.status_code == 200, streamed.text
            events = parse_events(streamed.content)
            record = user.get(f"/agents/v1/runs/{events[0]['run_id']}").json()
    types = [event["type"] for event in events]
    assert types[0] == "run_started" and types[-1] == "run_finished"
    assert types.index("tool_call_started") < types.index("tool_call_finished")
    finished = next(event for event in events if event["type"] == "tool_call_finished")
    assert finished["name"] == "calculator" and finished["result"] == "391"
    assert events[-1]["output"] == "The answer is 391."
    assert record["agent"] == NAME and record["user_id"] == user_id
    assert record["status"] == "succeeded"
    assert [step["kind"] for step in record["steps"]] == ["model", "tool", "model"]
    assert record["usage"]["total_tokens"] > 0


def test_its_own_test_passes(project: Path, tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AGENTIC_")}
    env.pop("PYTEST_ADDOPTS", None)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--basetemp",
            str(tmp_path),
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Ledger_Helper", "use lowercase letters, digits and single dashes"),
        ("9lives", "starting with a letter"),
        ("double--dash", "single dashes"),
        ("a" * 64, "at most 63 characters"),
        ("diy-agent", "is a built-in agent of the platform"),
        ("json", "clashes with an existing Python module"),
        ("class", "clashes with an existing Python module"),
    ],
)
def test_a_bad_name_is_refused(name: str, message: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["agents", "new", name, "--path", str(tmp_path / "x")])
    assert result.exit_code == 1
    assert result.output.startswith("error: ") and message in result.output
    assert not (tmp_path / "x").exists()


def test_an_occupied_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    result = CliRunner().invoke(
        cli, ["agents", "new", "other-helper", "--path", f"{tmp_path}/taken"]
    )
    assert result.exit_code == 1
    assert "already exists and is not an empty directory" in result.output
    assert [path.name for path in (tmp_path / "taken").iterdir()] == ["notes.txt"]
    (tmp_path / "empty").mkdir()
    made = CliRunner().invoke(cli, ["agents", "new", "other-helper", "--path", f"{tmp_path}/empty"])
    assert made.exit_code == 0, made.output
    assert (tmp_path / "empty" / "src" / "other_helper" / "agent.py").is_file()
