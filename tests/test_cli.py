"""The CLI against a real server: models, chat, embed, keys, plans and usage."""

from __future__ import annotations

import json
import math
import time

import httpx
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


def test_models_show_each_models_kind_and_capabilities(run) -> None:  # type: ignore[no-untyped-def]
    lines = run("models").splitlines()
    assert lines[0].split() == ["ID", "KIND", "CAPABILITIES"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert rows["echo"] == ["chat", "chat,json_schema,streaming,tools,vision"]
    assert rows["text-only"] == ["chat", "chat"]
    assert rows["test-embed"] == ["embedding", "embeddings"]
    listed = json.loads(run("models", "--json"))
    assert {"id": "test-embed", "kind": "embedding", "capabilities": ["embeddings"]} in listed


def test_embed_prints_one_unit_vector_a_text(run) -> None:  # type: ignore[no-untyped-def]
    """The default model is the catalog's first embedding model; equal texts, equal vectors."""
    lines = run("embed", "a cat", "a dog", "a cat").splitlines()
    vectors = [json.loads(line) for line in lines if line.startswith("[")]
    assert [len(vector) for vector in vectors] == [8, 8, 8]
    assert vectors[0] == vectors[2] != vectors[1]
    assert math.isclose(sum(v * v for v in vectors[0]), 1.0, rel_tol=1e-6)
    assert "test-embed: 8 dimensions, 6 tokens" in lines


def test_embed_with_a_chat_model_is_a_one_line_error(platform_url: str, admin_key: str) -> None:
    result = CliRunner().invoke(
        app, ["embed", "x", "--model", "echo", "--url", platform_url, "--api-key", admin_key]
    )
    assert result.exit_code == 1
    assert result.output.startswith("error: ") and "echo" in result.output


def test_keys_update_changes_the_model_allowlist(  # type: ignore[no-untyped-def]
    run, platform_url: str
) -> None:
    created = run("keys", "create", "--name", "narrowed", "--model", "echo")
    key_id = created.split("id:")[1].split()[0]
    secret = created.split("secret:")[1].split()[0]
    body = {"model": "text-only", "messages": [{"role": "user", "content": "hi"}]}

    def chat_status(expected: int) -> int:
        """The status of a chat call, once it is ``expected``: key changes reach the
        gateway's key cache through the change feed, within a second."""
        status = 0
        for _ in range(40):
            answer = httpx.post(
                f"{platform_url}/llm/v1/chat/completions",
                json=body,
                headers={"Authorization": f"Bearer {secret}"},
            )
            status = answer.status_code
            if status == expected:
                break
            time.sleep(0.1)
        return status

    assert chat_status(403) == 403
    assert "models: echo,text-*" in run("keys", "update", key_id, "--models", "echo, text-*")
    assert chat_status(200) == 200
    assert "models: all" in run("keys", "update", key_id, "--all-models")
    assert chat_status(200) == 200
    assert "models: echo" in run("keys", "update", key_id, "--models", "echo")
    assert chat_status(403) == 403


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([], "nothing to change"),
        (["--models", "echo", "--all-models"], "not both"),
        (["--models", " , "], "at least one pattern"),
    ],
)
def test_keys_update_refuses_what_means_nothing(
    platform_url: str, admin_key: str, arguments: list[str], message: str
) -> None:
    result = CliRunner().invoke(
        app, ["keys", "update", "key_x", *arguments, "--url", platform_url, "--api-key", admin_key]
    )
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and message in result.output


def test_plans_update_and_delete(run) -> None:  # type: ignore[no-untyped-def]
    plan_id = run("plans", "create", "cli-changing", "--rpm", "5", "--model", "echo").strip()
    updated = run("plans", "update", plan_id, "--rpm", "7", "--daily-usd", "2", "--clear", "model")
    row = updated.splitlines()[1].split()
    assert row[:3] == [plan_id, "cli-changing", "7"] and row[4] == "2.0" and row[6] == "-"
    listed = json.loads(run("plans", "list", "--json"))
    (plan,) = [p for p in listed if p["id"] == plan_id]
    assert (plan["requests_per_minute"], plan["allowed_models"]) == (7, None)
    assert plan["budget_usd_per_day"] == 2.0
    run("plans", "update", plan_id, "--clear", "rpm", "--inactive", "--name", "cli-renamed")
    (plan,) = [p for p in json.loads(run("plans", "list", "--json")) if p["id"] == plan_id]
    assert (plan["name"], plan["requests_per_minute"], plan["active"]) == (
        "cli-renamed",
        None,
        False,
    )
    assert run("plans", "delete", plan_id).strip() == f"deleted {plan_id}"
    assert plan_id not in run("plans", "list")


def test_plans_update_and_delete_errors_are_one_line(platform_url: str, admin_key: str) -> None:
    def invoke(*arguments: str) -> tuple[int, str]:
        result = CliRunner().invoke(
            app, [*arguments, "--url", platform_url, "--api-key", admin_key]
        )
        return result.exit_code, result.output

    code, output = invoke("plans", "update", "plan_missing", "--rpm", "3")
    assert code == 1 and output.startswith("error: ") and "Traceback" not in output
    code, output = invoke("plans", "delete", "plan_missing")
    assert code == 1 and output.startswith("error: ")
    code, output = invoke("plans", "update", "plan_x", "--clear", "speed")
    assert code == 2 and "choose from" in output
    code, output = invoke("plans", "update", "plan_x", "--rpm", "3", "--clear", "rpm")
    assert code == 2 and "contradict" in output
    code, output = invoke("plans", "update", "plan_x")
    assert code == 2 and "nothing to change" in output


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
