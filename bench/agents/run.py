"""``python -m bench.agents``: what the agent platform adds to an agent's steps, and the local
model's tokens/s through an agent, each side by side with the gateway called directly.

1. Start the platform as a user does (``agentic up``, here with the llm-gateway and agents
   services only), its catalog the benchmark's scripted model and the packaged local model,
   and the benchmark's ``bench-plain`` agent loaded through ``agents.modules``.
2. Overhead per step (:mod:`bench.agents.overhead`): ``diy-agent`` through ``/agents/v1``
   against the same loop calling ``/llm/v1/chat/completions``, pair by pair.
3. Tokens/s (:mod:`bench.agents.tokens`): the local model streamed through ``bench-plain``
   against the same request streamed directly.

It prints the section for docs/benchmarks.md (a Markdown table) and writes it there unless
``--no-docs``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import secrets
import shlex
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

import httpx
import yaml

from bench.agents import overhead, report, tokens
from bench.gateway import aio, procs, targets
from bench.gateway.machine import OtherLoad, wait_until_quiet
from bench.gateway.report import section, write_section

REPO = targets.BENCH_DIR.parent
DOC = REPO / "docs" / "benchmarks.md"
RESULTS = targets.BENCH_DIR / "results"
STEPS_MODEL = "bench-steps"


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.agents", description=__doc__)
    parser.add_argument("--steps", type=int, default=4, help="model calls per run (>= 2)")
    parser.add_argument("--runs", type=int, default=200, help="measured pairs (overhead)")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured pairs first")
    parser.add_argument("--local-model", default="smollm2-135m", help="the packaged model")
    parser.add_argument("--local-rounds", type=int, default=10, help="measured pairs (tokens/s)")
    parser.add_argument("--local-tokens", type=int, default=128, help="max_tokens per answer")
    parser.add_argument("--skip-local", action="store_true", help="overhead only")
    parser.add_argument("--skip-overhead", action="store_true", help="tokens/s only")
    parser.add_argument("--no-docs", action="store_true", help="do not update docs/benchmarks.md")
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="SECONDS",
        help="first wait up to this long for other processes to leave the CPUs alone",
    )
    args = parser.parse_args()
    if args.steps < 2:
        parser.error("--steps must be at least 2 (a tool call needs a model call after it)")
    return args


def _config(args: argparse.Namespace) -> dict[str, object]:
    models: list[dict[str, object]] = [
        {
            "alias": STEPS_MODEL,
            "kind": "chat",
            "capabilities": ["chat", "streaming", "tools"],
            "deployments": [
                {
                    "provider": "test",
                    "model": STEPS_MODEL,
                    "options": {"function": "bench.agents.scripted:tool_rounds"},
                }
            ],
        }
    ]
    if not args.skip_local:
        models.append(
            {
                "alias": args.local_model,
                "kind": "chat",
                "capabilities": ["chat", "streaming", "tools"],
                "deployments": [{"provider": "local", "model": f"{args.local_model}-instruct"}],
            }
        )
    return {
        "services": ["llm-gateway", "agents"],
        "models": models,
        "agents": {
            "default_model": STEPS_MODEL,
            "agent_models": {"bench-plain": args.local_model},
            "modules": ["bench.agents.scripted:PlainAgent"],
            "max_tokens": args.local_tokens,
        },
    }


def start_platform(args: argparse.Namespace, work: Path, logs: Path) -> tuple[procs.Server, str]:
    beside = Path(sys.executable).with_name("agentic")
    if not beside.exists():
        raise SystemExit("the `agentic` command is not installed: run `uv sync` first")
    config = work / "config.yaml"
    config.write_text(yaml.safe_dump(_config(args)))
    key = "agp_" + secrets.token_urlsafe(32)
    port = procs.free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("AGENTIC_")}
    env |= {
        "AGENTIC_CONFIG_FILE": str(config),
        "AGENTIC_DATA_DIR": str(work / "data"),
        "AGENTIC_AUTH__BOOTSTRAP_ADMIN_KEY": key,
        "AGENTIC_LOG_REQUESTS": "false",
        "AGENTIC_LOG_LEVEL": "warning",
        "AGENTIC_HOST": "127.0.0.1",
        "AGENTIC_PORT": str(port),
        "PYTHONPATH": os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
    }
    server = procs.start("agents-platform", [str(beside), "up"], port=port, env=env, logs=logs)
    try:
        procs.wait_ready(server, "/healthz", timeout=180)
    except BaseException:
        server.stop()
        raise
    return server, key


def user_key(base: str, admin_key: str) -> str:
    headers = {"Authorization": f"Bearer {admin_key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as admin:
        principal = admin.post("/admin/v1/principals", json={"name": "bench-agents"}).json()
        issued = admin.post("/admin/v1/keys", json={"principal_id": principal["id"]})
        issued.raise_for_status()
        return str(issued.json()["secret"])


def _context(other_cores: float, setup: str) -> dict[str, object]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory": f"{memory:.0f} GiB RAM",
        "kernel": f"{platform.system()} {platform.release()}",
        "versions": targets.versions(),
        "setup": setup,
        "other_cores": round(other_cores, 2),
    }


def measure(
    args: argparse.Namespace, base: str, key: str
) -> tuple[overhead.Overhead | None, tokens.TokenRates | None]:
    steps = None
    if not args.skip_overhead:
        print(f"overhead: {args.warmup} + {args.runs} pairs of {args.steps} steps", flush=True)
        steps = aio.run(
            overhead.measure(
                base,
                key,
                model=STEPS_MODEL,
                steps=args.steps,
                runs=args.runs,
                warmup=args.warmup,
                max_tokens=args.local_tokens,
            )
        )
    rates = None
    if not args.skip_local:
        print(f"tokens/s: 1 + {args.local_rounds} pairs on {args.local_model}", flush=True)
        rates = aio.run(
            tokens.measure(
                base,
                key,
                model=args.local_model,
                max_tokens=args.local_tokens,
                rounds=args.local_rounds,
            )
        )
    return steps, rates


def main() -> None:
    args = _args()
    logs = RESULTS / f"agents-{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%SZ')}"
    logs.mkdir(parents=True, exist_ok=True)
    if args.wait_quiet > 0:
        wait_until_quiet(args.wait_quiet)
    others = OtherLoad().start()
    with tempfile.TemporaryDirectory(prefix="bench-agents-") as tmp:
        server, admin_key = start_platform(args, Path(tmp), logs)
        try:
            steps, rates = measure(args, server.base, user_key(server.base, admin_key))
        finally:
            server.stop()
    context = _context(others.cores(), report.setup(steps, rates, args.runs))
    notes = []
    if float(str(context["other_cores"])) >= 0.25:
        notes.append(
            f"The machine was shared: other processes used {context['other_cores']} of its "
            f"{context['nproc']} cores on average during this run, so every figure is slower "
            "than on a quiet machine; measure again with `--wait-quiet` before trusting them."
        )
    body = report.table(steps, rates)
    given = sys.argv[1:]
    command = (
        f"`python -m bench.agents {shlex.join(given)}`" if given else "`python -m bench.agents`"
    )
    text = section(body, command=command, context=context, notes=notes, title=report.SECTION)
    raw = {
        "context": context,
        "overhead": asdict(steps) if steps else None,
        "tokens": asdict(rates) if rates else None,
    }
    (logs / "results.json").write_text(json.dumps(raw, indent=2, default=str))
    print(f"\n{text}")
    print(f"raw results and the server's log: {logs.relative_to(REPO)}")
    if not args.no_docs:
        write_section(DOC, text, title=report.SECTION)
        print(f"updated {DOC.relative_to(REPO)}")
