"""``agentic up`` and ``agentic serve <service>`` as real processes: a stop by SIGTERM after a
clean shutdown ends with status 0, and a start that fails ends with a non-zero status and one
line on stderr that says what is wrong, never a traceback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agentic_platform.settings import ALL_SERVICES
from agentic_platform.testing.catalog import scripted_models
from agentic_platform.testing.redis_server import free_port

COMMANDS = [["up"]] + [["serve", name] for name in ALL_SERVICES]
AGENTIC = str(Path(sys.executable).with_name("agentic"))


def _environment(work: Path, port: int, **settings: str) -> dict[str, str]:
    catalog = json.dumps([entry.model_dump(mode="json") for entry in scripted_models()])
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("AGENTIC_")},
        "AGENTIC_DATA_DIR": str(work / "data"),
        "AGENTIC_MODELS": catalog,
        "AGENTIC_MEMORY__EMBEDDING_MODEL": "test-embed",
        "AGENTIC_MEMORY__EXTRACTION_MODEL": "none",
        "AGENTIC_RETRIEVAL__DEFAULT_EMBEDDING_MODEL": "test-embed",
        "AGENTIC_HOST": "127.0.0.1",
        "AGENTIC_PORT": str(port),
        **settings,
    }


def _run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AGENTIC, *command], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _failure(result: subprocess.CompletedProcess[str]) -> str:
    """The error line of a failed start, after checking it is the only thing said in prose."""
    assert result.returncode not in (0, None), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("error: "), result.stderr
    logged = [line for line in lines[:-1] if not line.startswith("{")]
    assert logged == [], "besides the JSON log, one line of prose"
    return lines[-1]


def _elsewhere(command: list[str]) -> dict[str, str]:
    """Where a service served alone finds the others (never called here)."""
    if command[0] == "up":
        return {}
    others = {name: "http://127.0.0.1:9" for name in ALL_SERVICES if name != command[-1]}
    return {"AGENTIC_SERVICE_URLS": json.dumps(others)}


def test_sigterm_after_a_clean_shutdown_exits_0(tmp_path: Path) -> None:
    """Every command at once (each start takes seconds on a busy machine)."""
    ports = [free_port() for _ in COMMANDS]
    processes = [
        subprocess.Popen(
            [AGENTIC, *command],
            env=_environment(tmp_path / command[-1], port, **_elsewhere(command)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command, port in zip(COMMANDS, ports, strict=True)
    ]
    try:
        for process, port in zip(processes, ports, strict=True):
            _wait_until_healthy(process, f"http://127.0.0.1:{port}")
        for process in processes:
            process.send_signal(signal.SIGTERM)
        stopped = [process.communicate(timeout=60)[1] for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(10)
    for command, process, stderr in zip(COMMANDS, processes, stopped, strict=True):
        assert process.returncode == 0, (command, stderr[-3000:])
        assert "Traceback" not in stderr
        assert "Application shutdown complete." in stderr, command


def _wait_until_healthy(process: subprocess.Popen[str], url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"it exited {process.returncode}: {process.communicate()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError("the platform did not start")


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.create_server(("127.0.0.1", 0)) as holder:
        yield holder.getsockname()[1]


def test_a_port_in_use_is_one_line_before_anything_starts(taken_port: int, tmp_path: Path) -> None:
    result = _run(["up"], _environment(tmp_path, taken_port))
    line = _failure(result)
    assert result.returncode == 1
    assert line.startswith(
        f"error: cannot listen on 127.0.0.1:{taken_port}: address already in use"
    )
    assert "AGENTIC_PORT" in line
    assert not (tmp_path / "data").exists(), "nothing was opened or migrated"


def test_bad_settings_exit_2_without_a_traceback(tmp_path: Path) -> None:
    result = _run(["serve", "memory"], _environment(tmp_path, 8000, AGENTIC_PORT="eighty"))
    assert result.returncode == 2
    assert result.stderr.startswith("error: invalid settings:")
    assert "AGENTIC_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_setting_that_fails_at_start_up_is_one_line(tmp_path: Path) -> None:
    env = _environment(
        tmp_path, free_port(), AGENTIC_GOVERNANCE__LEDGER_JOURNAL_DIR="/proc/no-such-place"
    )
    line = _failure(result := _run(["serve", "memory"], env))
    assert result.returncode == 2
    assert line.startswith("error: cannot start: the usage journal directory /proc/no-such-place")


def test_a_missing_extra_is_one_line_naming_it(tmp_path: Path) -> None:
    """boto3 is shadowed by a package that cannot be imported, as on a machine without the
    ``bedrock`` extra."""
    shadow = tmp_path / "shadow" / "boto3"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(
        'raise ModuleNotFoundError("No module named \'boto3\'", name="boto3")\n'
    )
    bedrock = [{"alias": "claude", "deployments": [{"provider": "bedrock", "model": "claude"}]}]
    env = _environment(tmp_path, free_port(), AGENTIC_MODELS=json.dumps(bedrock))
    env["PYTHONPATH"] = str(shadow.parent)
    line = _failure(result := _run(["serve", "llm-gateway"], env))
    assert result.returncode == 2
    assert "pip install 'agentic-platform[bedrock]'" in line
    assert "boto3" in line


def test_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    url = f"postgresql+asyncpg://platform:hunter2@127.0.0.1:{free_port()}/platform"
    env = _environment(tmp_path, free_port(), AGENTIC_DATABASE_URL=url)
    line = _failure(result := _run(["serve", "memory"], env))
    assert result.returncode == 1
    assert line == "error: cannot start: The database is unavailable, retry later."
    assert "hunter2" not in result.stderr
