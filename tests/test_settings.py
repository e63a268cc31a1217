"""Settings come from the environment and a YAML file; mistakes name the setting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentic_platform.cli import app
from agentic_platform.errors import ConfigurationError
from agentic_platform.settings import load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AGENTIC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("AGENTIC_CONFIG_FILE", raising=False)


def test_defaults_are_embedded(tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.effective_database_url.startswith("sqlite+aiosqlite:///")
    assert str(tmp_path / "data") in settings.effective_database_url
    assert [m.alias for m in settings.models] == ["smollm2-135m", "minilm-l6"]
    assert settings.port == 8080 and settings.host == "127.0.0.1"


def test_environment_and_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "agentic.yaml"
    config.write_text(
        "port: 9000\n"
        "gateway: {max_body_bytes: 4096}\n"
        "models:\n"
        "  - alias: gpt\n"
        "    deployments:\n"
        "      - {provider: openai, model: gpt-4o-mini, api_key_env: OPENAI_API_KEY}\n"
    )
    monkeypatch.setenv("AGENTIC_CONFIG_FILE", str(config))
    monkeypatch.setenv("AGENTIC_PORT", "9100")  # the environment wins over the file
    monkeypatch.setenv("AGENTIC_GATEWAY__RETRY_BACKOFF_SECONDS", "0.5")
    settings = load_settings()
    assert settings.port == 9100
    assert settings.gateway.max_body_bytes == 4096
    assert settings.gateway.retry_backoff_seconds == 0.5
    assert settings.models[0].deployments[0].model == "gpt-4o-mini"


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("AGENTIC_PORT", "eighty", "AGENTIC_PORT"),
        ("AGENTIC_DATABASE_URL", "mysql://x", "database_url"),
        ("AGENTIC_GATEWAY__MAX_BODY_BYTES", "10", "AGENTIC_GATEWAY__MAX_BODY_BYTES"),
        ("AGENTIC_RETRIEVAL__JOB_LEASE_SECONDS", "0.1", "AGENTIC_RETRIEVAL__JOB_LEASE_SECONDS"),
        ("AGENTIC_RETRIEVAL__JOB_MAX_ATTEMPTS", "0", "AGENTIC_RETRIEVAL__JOB_MAX_ATTEMPTS"),
        ("AGENTIC_NO_SUCH_THING", "1", "AGENTIC_NO_SUCH_THING"),
    ],
)
def test_wrong_setting_is_named(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, named: str
) -> None:
    monkeypatch.setenv(variable, value)
    if variable == "AGENTIC_NO_SUCH_THING":
        # Unknown environment variables are ignored by design (the prefix is shared with
        # the CLI's own variables); unknown keys in the YAML file are errors.
        load_settings()
        return
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert named in caught.value.message


def test_unknown_key_in_yaml_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "agentic.yaml"
    config.write_text("prot: 80\n")
    monkeypatch.setenv("AGENTIC_CONFIG_FILE", str(config))
    with pytest.raises(ConfigurationError, match="AGENTIC_PROT"):
        load_settings()


def test_unreadable_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTIC_CONFIG_FILE", str(tmp_path / "missing.yaml"))
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_settings()
    (tmp_path / "bad.yaml").write_text("models: [\n")
    monkeypatch.setenv("AGENTIC_CONFIG_FILE", str(tmp_path / "bad.yaml"))
    with pytest.raises(ConfigurationError, match="not valid YAML"):
        load_settings()


def test_config_show_masks_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTIC_DATABASE_URL", "postgresql+asyncpg://app:hunter2@db:5432/agentic")
    monkeypatch.setenv("AGENTIC_AUTH__BOOTSTRAP_ADMIN_KEY", "agp_supersecretsupersecretsupersecret")
    result = CliRunner().invoke(app, ["config", "show"])
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.output
    assert "supersecret" not in result.output
    shown = json.loads(result.output)
    assert shown["database_url"] == "postgresql+asyncpg://app:**********@db:5432/agentic"


def test_cli_reports_bad_settings_without_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTIC_PORT", "99999")
    result = CliRunner().invoke(app, ["config", "show"])
    assert result.exit_code == 2
    assert "AGENTIC_PORT" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "command",
    [[], ["up"], ["serve"], ["chat"], ["models"], ["config", "show"], ["db", "upgrade"], ["keys"]],
)
def test_every_command_has_help(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output
