"""``agentic agents`` and ``agentic runs`` against a real server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from agents_harness import agent_settings
from typer.testing import CliRunner

from agentic_platform.app import create_app
from agentic_platform.cli import app
from agentic_platform.testing.server import serve_in_thread

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, admin_key: str) -> Iterator[str]:
    data = tmp_path_factory.mktemp("agents-cli")
    settings = agent_settings(data, admin_key, f"sqlite+aiosqlite:///{Path(data) / 'p.db'}")
    with serve_in_thread(create_app(settings)) as url:
        yield url


@pytest.fixture
def run(served: str, admin_key: str, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.setenv("AGENTIC_API_KEY", admin_key)
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(app, [*args, "--url", served])
        return result.exit_code, result.stdout, result.stderr

    return invoke


def test_agents_list(run: Run) -> None:
    code, out, err = run("agents", "list")
    assert code == 0, err
    assert "diy-agent" in out and "calculator" in out


def test_agents_run_streams_the_answer_and_shows_tool_calls(run: Run) -> None:
    code, out, err = run("agents", "run", "diy-agent", "12 * 12")
    assert code == 0, err
    assert out.strip() == "The answer is 144."
    assert '[tool] calculator {"expression": "12 * 12"}' in err
    assert "[result] 144" in err
    run_id = err.split("[run ")[1].split("]")[0]
    code, listed, _ = run("runs", "list")
    assert code == 0 and run_id in listed and "succeeded" in listed
    code, shown, _ = run("runs", "show", run_id)
    assert code == 0
    assert "status: succeeded" in shown and "calculator" in shown and "144" in shown


def test_errors_are_one_line(run: Run) -> None:
    code, _, err = run("agents", "run", "nobody", "hi")
    assert code == 1
    assert err.startswith("error: No agent 'nobody'") and "Traceback" not in err
    code, _, err = run("runs", "show", "no-such-run")
    assert code == 1 and err.startswith("error: No run 'no-such-run'.")


def test_serve_only_applies_to_the_agents_service() -> None:
    result = CliRunner().invoke(app, ["serve", "memory", "--only", "diy-agent"])
    assert result.exit_code == 2
    assert "--only applies to the agents service" in result.stderr
