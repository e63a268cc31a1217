"""The CLI against a real server: models, chat, keys, plans and usage."""

from __future__ import annotations

import time

import pytest
from typer.testing import CliRunner

from agentic_platform.cli import app


@pytest.fixture
def run(platform_url: str, admin_key: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AGENTIC_API_KEY", admin_key)
    runner = CliRunner()

    def invoke(*args: str) -> str:
        result = runner.invoke(app, [*args, "--url", platform_url])
        assert result.exit_code == 0, result.output
        return result.output

    return invoke


def test_models_and_chat(run) -> None:  # type: ignore[no-untyped-def]
    assert "echo" in run("models").split()
    assert run("chat", "hello cli", "--model", "echo").strip() == "hello cli"


def test_keys_plans_and_usage(run) -> None:  # type: ignore[no-untyped-def]
    created = run("keys", "create", "--name", "cli-key", "--model", "echo")
    key_id = created.split("id:")[1].split()[0]
    assert "secret: agp_" in created
    assert key_id in run("keys", "list")
    rotated = run("keys", "rotate", key_id)
    new_id = rotated.split("id:")[1].split()[0]
    assert f"revoked {new_id}" in run("keys", "revoke", new_id)
    plan_id = run("plans", "create", "cli-plan", "--rpm", "5", "--daily-usd", "1").strip()
    assert plan_id.startswith("plan_")
    assert "cli-plan" in run("plans", "list")
    assert "now on plan" in run("plans", "assign", plan_id, "--key", key_id)
    run("chat", "for the ledger", "--model", "echo")
    usage = ""
    for _ in range(50):  # the ledger is written in batches, off the request path
        usage = run("usage", "--group-by", "model")
        if "GROUP" in usage:
            break
        time.sleep(0.1)
    assert "GROUP" in usage and "echo" in usage
    assert run("usage", "--csv").startswith("day,")


def test_errors_are_one_line(platform_url: str) -> None:
    result = CliRunner().invoke(
        app, ["keys", "list", "--url", platform_url, "--api-key", "agp_wrong"]
    )
    assert result.exit_code == 1
    assert result.output.startswith("error: ")
    assert "Traceback" not in result.output
    unreachable = CliRunner().invoke(
        app, ["models", "--url", "http://127.0.0.1:9", "--api-key", "agp_x"]
    )
    assert unreachable.exit_code == 1
    assert "cannot reach" in unreachable.output
