"""The three things measured: the fake upstream, our gateway, and LiteLLM's proxy.

Each is started the way a user would run it: the gateway with ``agentic serve llm-gateway``
(one uvicorn worker on uvloop + httptools) on a YAML catalog whose one alias points at the
fake upstream, with a real admin key checked on every request; LiteLLM with its own CLI, one
worker, a master key, in a separate virtualenv so it never touches the project's
dependencies or ``uv.lock``.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.gateway import procs

BENCH_DIR = Path(__file__).resolve().parents[1]
LITELLM_VENV = Path(os.environ.get("BENCH_LITELLM_VENV", BENCH_DIR / ".venv-litellm"))
LITELLM_MASTER_KEY = "sk-bench-litellm-master-key"
ALIAS = "bench"
CHAT_BODY = (
    '{"model":"bench","messages":[{"role":"system","content":"You are terse."},'
    '{"role":"user","content":"Say hello to the benchmark."}],"max_tokens":16,"temperature":0}'
)
STREAM_BODY = CHAT_BODY[:-1] + ',"stream":true}'
MESSAGES_BODY = (
    '{"model":"bench","system":"You are terse.","messages":[{"role":"user",'
    '"content":"Say hello to the benchmark."}],"max_tokens":16,"temperature":0}'
)
"""The same request in the Anthropic Messages API's shape (``bench.gateway.messages_api``)."""

RESPONSES_BODY = (
    '{"model":"bench","instructions":"You are terse.",'
    '"input":"Say hello to the benchmark.","max_output_tokens":16,"temperature":0}'
)
"""The same request as :data:`CHAT_BODY`, in the Responses API's shape."""


@dataclass
class Target:
    """Something to send chat completions to."""

    name: str
    server: procs.Server
    chat_path: str
    headers: dict[str, str] = field(default_factory=dict)
    note: str = ""
    body: str = CHAT_BODY
    """What the open-loop latency generator sends (``loadgen``)."""

    @property
    def url(self) -> str:
        return self.server.base + self.chat_path


def _clean_env() -> dict[str, str]:
    """The caller's environment without settings that would change what is measured."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AGENTIC_", "LITELLM_", "OPENAI_"))
    }


def start_upstream(logs: Path) -> Target:
    port = procs.free_port()
    argv = [sys.executable, "-m", "bench.gateway.upstream", "--port", str(port)]
    env = _clean_env() | {"PYTHONPATH": str(BENCH_DIR.parent)}
    server = procs.start("upstream", argv, port=port, env=env, logs=logs)
    target = Target("direct", server, "/v1/chat/completions")
    _wait_chat(target, timeout=30)
    return target


def _agentic_command() -> list[str]:
    beside = Path(sys.executable).with_name("agentic")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("agentic")
    if found is None:
        raise RuntimeError("the `agentic` command is not installed: run `uv sync` first")
    return [found]


def generate_key() -> str:
    """A fresh admin key, made by ``agentic keys generate`` as a user would."""
    out = subprocess.run(
        [*_agentic_command(), "keys", "generate"],
        check=True,
        capture_output=True,
        text=True,
        env=_clean_env(),
    )
    return out.stdout.strip().splitlines()[-1]


def start_gateway(
    upstream: Target,
    work: Path,
    logs: Path,
    *,
    limits_url: str = "memory://",
    journal: bool = True,
    name: str = "gateway",
    settings: dict[str, str] | None = None,
    key: str | None = None,
    plan: bool = True,
    deployments: int = 1,
) -> Target:
    """The gateway on ``upstream`` as ``name`` (its log, data and results go by that name),
    with more ``AGENTIC_*`` settings on top of the benchmark's (e.g. telemetry on);
    ``journal=False`` turns the usage journal off (``AGENTIC_GOVERNANCE__LEDGER_JOURNAL``), to
    measure what it costs. Replicas on one database share one ``key``; only the first needs
    to put it on the usage plan (``plan=False`` for the others).
    With ``deployments`` above 1 the alias is served by that many
    deployments of the upstream, balanced by weight (to measure what routing costs)."""
    data = work / f"{name}-data"
    data.mkdir(parents=True, exist_ok=True)
    config = work / f"{name}.yaml"
    deployment = (
        "      - provider: openai\n"
        "        model: fake\n"
        f"        api_base: {upstream.server.base}/v1\n"
        "        input_price_per_mtok: 0.15\n"
        "        output_price_per_mtok: 0.60\n"
    )
    strategy = "    strategy: weighted\n" if deployments > 1 else ""
    weights = "".join(f"{deployment}        weight: {i + 1}\n" for i in range(deployments))
    config.write_text(
        "models:\n"
        f"  - alias: {ALIAS}\n"
        f"{strategy}"
        "    deployments:\n"
        f"{weights if deployments > 1 else deployment}"
    )
    key = key or generate_key()
    port = procs.free_port()
    env = _clean_env() | {
        "AGENTIC_CONFIG_FILE": str(config),
        "AGENTIC_DATA_DIR": str(data),
        "AGENTIC_AUTH__BOOTSTRAP_ADMIN_KEY": key,
        "AGENTIC_LOG_REQUESTS": "false",
        "AGENTIC_HOST": "127.0.0.1",
        "AGENTIC_PORT": str(port),
        "AGENTIC_LIMITS__URL": limits_url,
        "AGENTIC_GOVERNANCE__LEDGER_JOURNAL": "true" if journal else "false",
        **(settings or {}),
    }
    argv = [*_agentic_command(), "serve", "llm-gateway"]
    server = procs.start(name, argv, port=port, env=env, logs=logs)
    target = Target(name, server, "/llm/v1/chat/completions", {"Authorization": f"Bearer {key}"})
    try:
        procs.wait_ready(server, "/healthz", timeout=60)
        _wait_chat(target, timeout=30)
        _check_rejects_bad_key(target)
        _check_journal(data / "journal", on=journal)
        target.note = attach_plan(target) if plan else wait_plan(target)
    except BaseException:
        server.stop()
        raise
    return target


def _wait_chat(target: Target, *, timeout: float) -> None:
    """Ready means a real chat completion answers 200, not just a health probe."""
    procs.wait_ready(
        target.server,
        target.chat_path,
        timeout=timeout,
        method="POST",
        body=CHAT_BODY.encode(),
        headers={"Content-Type": "application/json", **target.headers},
    )


def _check_rejects_bad_key(target: Target) -> None:
    """Guard against measuring a gateway that skips the key check."""
    wrong = {"Content-Type": "application/json", "Authorization": "Bearer agp_wrong"}
    reply = procs.http_call(
        target.server.port, target.chat_path, method="POST", body=CHAT_BODY.encode(), headers=wrong
    )
    if reply.status != 401:
        raise RuntimeError(f"the gateway answered HTTP {reply.status} to a wrong API key, not 401")


def _check_journal(directory: Path, *, on: bool) -> None:
    """Guard against measuring the journal's cost on a gateway that has (or lacks) one: a
    running gateway with a journal holds a lock file in its directory."""
    locks = list(directory.glob("usage-*.lock")) if directory.exists() else []
    if bool(locks) != on:
        state = "no usage journal" if on else "a usage journal"
        raise RuntimeError(f"the gateway runs with {state}, not as asked")


# Limits far above what the benchmark sends: every request is checked and counted against
# them (requests, tokens, concurrency, daily budget) but none is refused.
BENCH_PLAN = {
    "name": "bench",
    "requests_per_minute": 100_000_000,
    "input_tokens_per_minute": 1_000_000_000,
    "output_tokens_per_minute": 1_000_000_000,
    "max_concurrent_requests": 100_000,
    "budget_usd_per_day": 1_000_000.0,
}


def attach_plan(target: Target, timeout: float = 15) -> str:
    """Put the benchmark key on a usage plan through the admin API and wait until requests
    show it (rate-limit headers); returns "" or why it could not be done."""
    headers = {"Content-Type": "application/json", **target.headers}
    port = target.server.port

    def call(method: str, path: str, payload: object | None = None) -> procs.Reply:
        body = None if payload is None else json.dumps(payload).encode()
        return procs.http_call(port, path, method=method, body=body, headers=headers)

    plan = call("POST", "/admin/v1/plans", BENCH_PLAN)
    if plan.status != 201:
        return f"creating the plan got HTTP {plan.status}: {plan.body[:200]!r}"
    me = call("GET", "/admin/v1/me")
    if me.status != 200:
        return f"/admin/v1/me got HTTP {me.status}"
    key_id = me.json().get("key_id")
    attached = call("PATCH", f"/admin/v1/keys/{key_id}", {"plan_id": plan.json()["id"]})
    if attached.status != 200:
        return f"attaching the plan got HTTP {attached.status}: {attached.body[:200]!r}"
    return wait_plan(target, timeout)


def wait_plan(target: Target, timeout: float = 15) -> str:
    """Wait until requests show the key's usage plan (rate-limit headers); "" or why not."""
    headers = {"Content-Type": "application/json", **target.headers}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = procs.http_call(
            target.server.port,
            target.chat_path,
            method="POST",
            body=CHAT_BODY.encode(),
            headers=headers,
        )
        if reply.status == 200 and "x-ratelimit-limit-requests" in reply.headers:
            return ""
        time.sleep(0.2)
    return "requests did not show the plan's rate-limit headers"


def ensure_litellm(log: Path) -> tuple[Path | None, str]:
    """LiteLLM's CLI in its own virtualenv, created on demand; (None, reason) if that fails."""
    litellm = LITELLM_VENV / "bin" / "litellm"
    if litellm.exists():
        return litellm, ""
    python = shutil.which("python3") or sys.executable
    print(f"  creating {LITELLM_VENV} with litellm[proxy] (~750 MB, a few minutes)...")
    steps = [
        [python, "-m", "venv", str(LITELLM_VENV)],
        [str(LITELLM_VENV / "bin" / "pip"), "install", "--quiet", "--upgrade", "pip"],
        [str(LITELLM_VENV / "bin" / "pip"), "install", "--quiet", "litellm[proxy]", "uvloop"],
    ]
    with log.open("ab") as sink:
        for step in steps:
            try:
                subprocess.run(
                    step, check=True, stdout=sink, stderr=subprocess.STDOUT, timeout=1200
                )
            except (OSError, subprocess.SubprocessError) as error:
                return None, f"could not install litellm[proxy] ({error}); see {log}"
    if not litellm.exists():
        return None, f"litellm[proxy] installed without its CLI; see {log}"
    return litellm, ""


def litellm_version() -> str:
    python = LITELLM_VENV / "bin" / "python"
    out = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.strip() or "unknown"


def start_litellm(litellm: Path, upstream: Target, work: Path, logs: Path) -> Target:
    config = work / "litellm.yaml"
    config.write_text(
        "model_list:\n"
        f"  - model_name: {ALIAS}\n"
        "    litellm_params:\n"
        "      model: openai/fake\n"
        f"      api_base: {upstream.server.base}/v1\n"
        "      api_key: sk-fake-upstream\n"
        "general_settings:\n"
        f"  master_key: {LITELLM_MASTER_KEY}\n"
    )
    port = procs.free_port()
    env = _clean_env() | {
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        # LiteLLM's own knob for quiet logs (it also drops uvicorn's access log): its best case.
        "LITELLM_LOG": "ERROR",
        "LITELLM_TELEMETRY": "False",
        "HOME": str(work),
    }
    argv = [
        str(litellm),
        "--config",
        str(config),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--num_workers",
        "1",
    ]
    server = procs.start("litellm", argv, port=port, env=env, logs=logs)
    target = Target(
        "litellm", server, "/v1/chat/completions", {"Authorization": f"Bearer {LITELLM_MASTER_KEY}"}
    )
    try:
        procs.wait_ready(server, "/health/liveliness", timeout=180)
        _wait_chat(target, timeout=60)
    except BaseException:
        server.stop()
        raise
    return target


def versions() -> dict[str, str]:
    """Versions of what shapes the numbers."""
    found = {"python": sys.version.split()[0]}
    for package in (
        "agentic-platform",
        "fastapi",
        "starlette",
        "uvicorn",
        "uvloop",
        "httptools",
        "pydantic",
        "aiohttp",
        "orjson",
    ):
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = "missing"
    return found
