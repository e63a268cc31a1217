"""What telemetry costs the gateway: ``python -m bench.gateway --telemetry``.

Three gateways run at once beside the fake upstream and a local OTLP/HTTP collector
(``bench.gateway.collector``, in its own process, decoding every export): telemetry off;
on with every trace recorded (sampling 1.0); on with ``--telemetry-sampling`` of new traces
recorded. All three export metrics too (every 10 s) and serve ``/metrics``. They take turns
exactly like the main benchmark (throughput in rounds, then latency at a fixed rate in
rounds, a different one first each round), so the figures compare side by side.

``--telemetry-before DIR`` adds the same two telemetry gateways run from another checkout's
``DIR/src`` (e.g. a ``git worktree`` of the commit before a change), in the same run, so a
change's effect is measured side by side rather than across runs on a machine whose load
moves.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.gateway import procs, targets

TITLE = "## LLM gateway: cost of telemetry (bench/gateway --telemetry)"
THROUGHPUT_LOSS_TARGET = 0.10
ADDED_P50_TARGET_MS = 0.2


def _start_collector(logs: Path) -> procs.Server:
    port = procs.free_port()
    argv = [sys.executable, "-m", "bench.gateway.collector", "--port", str(port)]
    env = {"PYTHONPATH": str(targets.BENCH_DIR.parent), "PATH": "/usr/bin:/bin"}
    server = procs.start("collector", argv, port=port, env=env, logs=logs)
    procs.wait_ready(server, "/healthz", timeout=30)
    return server


def _telemetry(collector: procs.Server, ratio: float) -> dict[str, str]:
    return {
        "AGENTIC_TELEMETRY__ENABLED": "true",
        "AGENTIC_TELEMETRY__OTLP_ENDPOINT": collector.base,
        "AGENTIC_TELEMETRY__OTLP_PROTOCOL": "http",
        "AGENTIC_TELEMETRY__SAMPLING_RATIO": f"{ratio:g}",
        "AGENTIC_TELEMETRY__METRICS_EXPORT_SECONDS": "10",
    }


def _before_env(source: Path) -> dict[str, str]:
    """The environment that makes ``agentic`` import the platform from ``source/src``,
    checked: a "before" gateway that ran the current code would compare nothing."""
    env = {"PYTHONPATH": str(source.resolve() / "src")}
    found = subprocess.run(
        [sys.executable, "-c", "import agentic_platform; print(agentic_platform.__file__)"],
        env={**targets._clean_env(), **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not Path(found).resolve().is_relative_to(source.resolve()):
        raise RuntimeError(f"PYTHONPATH={env['PYTHONPATH']} imports {found}, not that checkout")
    return env


def gateways(args: argparse.Namespace) -> list[tuple[str, str, float | None, bool]]:
    """(name, column label, sampling ratio or None for off, from the "before" checkout)."""
    ratio = f"{args.telemetry_sampling:g}"
    found: list[tuple[str, str, float | None, bool]] = [("off", "telemetry off", None, False)]
    if args.telemetry_before:
        found += [
            ("traced-before", "every trace, before", 1.0, True),
            ("traced", "every trace, now", 1.0, False),
            ("sampled-before", f"sampling {ratio}, before", args.telemetry_sampling, True),
            ("sampled", f"sampling {ratio}, now", args.telemetry_sampling, False),
        ]
    else:
        found += [
            ("traced", "on, every trace", 1.0, False),
            ("sampled", f"on, sampling {ratio}", args.telemetry_sampling, False),
        ]
    return found


def start_all(
    args: argparse.Namespace, work: Path, logs: Path, stack: ExitStack
) -> tuple[list[targets.Target], procs.Server]:
    collector = _start_collector(logs)
    stack.callback(collector.stop)
    direct = targets.start_upstream(logs)
    stack.callback(direct.server.stop)
    running = [direct]
    before = _before_env(Path(args.telemetry_before)) if args.telemetry_before else {}
    for name, _label, ratio, from_before in gateways(args):
        print(f"gateway, telemetry {name}...", flush=True)
        settings = {} if ratio is None else _telemetry(collector, ratio)
        if from_before:
            settings |= before  # not a setting: the environment that picks the checkout
        gateway = targets.start_gateway(
            direct, work, logs, limits_url=args.limits_url, name=name, settings=settings
        )
        stack.callback(gateway.server.stop)
        running.append(gateway)
    return running, collector


def _collected(collector: procs.Server) -> dict[str, int]:
    reply = procs.http_call(collector.port, "/stats")
    counts: dict[str, int] = reply.json()
    return counts


def table(results: dict[str, Any], counts: dict[str, int], args: argparse.Namespace) -> str:
    throughput, latency = results["throughput"], results["latency"]
    columns = gateways(args)
    names = [name for name, *_ in columns]
    header = [
        "| figure | " + " | ".join(label for _, label, *_ in columns) + " | target | met |",
        "|---|" + "---|" * len(columns) + "---|---|",
    ]
    base = throughput["off"]

    def loss(name: str) -> float:
        return 1 - throughput[name].rate / base.rate

    def p50(name: str) -> float:
        return float(latency[name]["latency_ms"]["p50"])

    def cells(values: list[str]) -> str:
        return " | ".join(values)

    def met(ok: bool) -> str:
        return "yes" if ok else "no"

    traced = names[1:]
    rates = [
        f"{throughput[n].rate:,.0f}" + (f" ({-loss(n):+.1%})" if n != "off" else "") for n in names
    ]
    cpu = [f"{throughput[n].cpu_ms_per_request or 0:.3f}" for n in names]
    added_cpu = ["—"] + [
        f"{(throughput[n].cpu_ms_per_request or 0) - (base.cpu_ms_per_request or 0):+.3f}"
        for n in traced
    ]
    failed = [str(throughput[n].failed) for n in names]
    percentiles = [
        " / ".join(f"{latency[n]['latency_ms'][p]:.2f}" for p in ("p50", "p95", "p99"))
        for n in names
    ]
    added = ["—"] + [f"{p50(n) - p50('off'):+.2f}" for n in traced]
    now = [n for n in traced if not n.endswith("-before")]
    rows = [
        f"| throughput, non-streaming, {args.connections} connections (req/s) | "
        f"{cells(rates)} | loss ≤ 10% | "
        f"{met(all(loss(n) <= THROUGHPUT_LOSS_TARGET for n in now))} |",
        f"| server CPU time per request in that run (ms) | {cells(cpu)} |  |  |",
        f"| added CPU time per request against telemetry off (ms) | {cells(added_cpu)} |  |  |",
        f"| failed requests in the throughput run | {cells(failed)} | 0 | "
        f"{met(all(f == '0' for f in failed))} |",
        f"| latency at {args.rate:g} req/s, p50 / p95 / p99 (ms) | {cells(percentiles)} |  |  |",
        f"| added p50 latency against telemetry off (ms) | {cells(added)} | ≤ 0.2 | "
        f"{met(all(p50(n) - p50('off') <= ADDED_P50_TARGET_MS for n in now))} |",
        f"| spans and exports received by the collector (all gateways, whole run) | — | "
        f"{counts['spans']:,} spans in {counts['trace_exports']:,} exports; "
        f"{counts['metric_exports']} metric exports |" + " |" * (len(columns) - 2) + "  |  |",
    ]
    return "\n".join([*header, *rows])


def run(
    args: argparse.Namespace,
    logs: Path,
    work: Path,
    context: dict[str, Any],
    load_rounds: Callable[..., tuple[dict[str, Any], dict[str, Any]]],
) -> str:
    """Start everything, measure with ``load_rounds`` (the main benchmark's), return the
    table; the raw figures go to ``logs``."""
    with ExitStack() as stack:
        running, collector = start_all(args, work, logs, stack)
        throughput, latency = load_rounds(running, args, work)
        results = {"throughput": throughput, "latency": latency}
        counts = _collected(collector)
    body = table(results, counts, args)
    raw = {
        "context": context,
        "throughput": {k: asdict(v) for k, v in results["throughput"].items()},
        "latency": {
            k: {key: v[key] for key in v if key != "latencies_ms"}
            for k, v in results["latency"].items()
        },
        "collector": counts,
    }
    (logs / "telemetry-results.json").write_text(json.dumps(raw, indent=2, default=str))
    return body


def section(body: str, command: str, context: dict[str, Any], notes: list[str]) -> str:
    versions = context["versions"]
    lines = [
        TITLE,
        "",
        f"Command: {command} · date: {context['date']} · machine: {context['nproc']} cores, "
        f"{context['cpu']}, {context['memory']} · other processes used "
        f"{context.get('other_cores', 0)} cores on average during the run",
        "",
        "Versions: " + ", ".join(f"{name} {value}" for name, value in versions.items()) + ".",
        "",
    ]
    if context.get("before"):
        lines += [
            f"Before: `{context['before']}`; now: `{context.get('now') or 'the working tree'}` "
            "(plus any uncommitted changes).",
            "",
        ]
    lines += [
        "Setup: as in the first section (fake upstream, `agentic serve llm-gateway`, key on a "
        "usage plan, ledger on SQLite, in-process limits), gateways at once: telemetry "
        "off; on, recording every trace (a server span and a `chat` span per request); on, "
        "recording the given share of new traces"
        + (
            ", each of the two also as it was before (the same commands run from the checkout "
            "given by `--telemetry-before`, via `PYTHONPATH`)"
            if context.get("before")
            else ""
        )
        + ". The telemetry gateways export spans "
        "(batched) and metrics (every 10 s) over OTLP/HTTP to a local collector in its own "
        "process that decodes every export, and serve /metrics. "
        f"{context['setup_rounds']}",
        "",
        body,
    ]
    lines += [f"\n{note}" for note in notes]
    return "\n".join(lines) + "\n"
