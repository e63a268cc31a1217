"""What telemetry costs the gateway: ``python -m bench.gateway --telemetry``.

Three gateways run at once beside the fake upstream and a local OTLP/HTTP collector
(``bench.gateway.collector``, in its own process, decoding every export): telemetry off;
on with every trace recorded (sampling 1.0); on with ``--telemetry-sampling`` of new traces
recorded. All three export metrics too (every 10 s) and serve ``/metrics``. They take turns
exactly like the main benchmark (throughput in rounds, then latency at a fixed rate in
rounds, a different one first each round), so the figures compare side by side.
"""

from __future__ import annotations

import argparse
import json
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


def start_all(
    args: argparse.Namespace, work: Path, logs: Path, stack: ExitStack
) -> tuple[list[targets.Target], procs.Server]:
    collector = _start_collector(logs)
    stack.callback(collector.stop)
    direct = targets.start_upstream(logs)
    stack.callback(direct.server.stop)
    running = [direct]
    for name, settings in (
        ("off", {}),
        ("traced", _telemetry(collector, 1.0)),
        ("sampled", _telemetry(collector, args.telemetry_sampling)),
    ):
        print(f"gateway, telemetry {name}...", flush=True)
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
    names = ["off", "traced", "sampled"]
    ratio = f"{args.telemetry_sampling:g}"
    header = [
        "| figure | telemetry off | on, every trace | on, sampling " + ratio + " | target | met |",
        "|---|---|---|---|---|---|",
    ]
    base = throughput["off"]

    def loss(name: str) -> float:
        return 1 - throughput[name].rate / base.rate

    def p50(name: str) -> float:
        return float(latency[name]["latency_ms"]["p50"])

    def cells(values: list[str]) -> str:
        return " | ".join(values)

    rates = [f"{throughput[n].rate:,.0f}" for n in names]
    rates[1] += f" ({-loss('traced'):+.1%})"
    rates[2] += f" ({-loss('sampled'):+.1%})"
    met_rate = all(loss(n) <= THROUGHPUT_LOSS_TARGET for n in names[1:])
    cpu = [f"{throughput[n].cpu_ms_per_request or 0:.3f}" for n in names]
    failed = [str(throughput[n].failed) for n in names]
    percentiles = [
        " / ".join(f"{latency[n]['latency_ms'][p]:.2f}" for p in ("p50", "p95", "p99"))
        for n in names
    ]
    added = ["—", f"{p50('traced') - p50('off'):+.2f}", f"{p50('sampled') - p50('off'):+.2f}"]
    met_p50 = all(p50(n) - p50("off") <= ADDED_P50_TARGET_MS for n in names[1:])
    rows = [
        f"| throughput, non-streaming, {args.connections} connections (req/s) | "
        f"{cells(rates)} | loss ≤ 10% | {'yes' if met_rate else 'no'} |",
        f"| server CPU time per request in that run (ms) | {cells(cpu)} |  |  |",
        f"| failed requests in the throughput run | {cells(failed)} | 0 | "
        f"{'yes' if all(f == '0' for f in failed) else 'no'} |",
        f"| latency at {args.rate:g} req/s, p50 / p95 / p99 (ms) | {cells(percentiles)} |  |  |",
        f"| added p50 latency against telemetry off (ms) | {cells(added)} | ≤ 0.2 | "
        f"{'yes' if met_p50 else 'no'} |",
        f"| spans and exports received by the collector (all gateways, whole run) | — | "
        f"{counts['spans']:,} spans in {counts['trace_exports']:,} exports; "
        f"{counts['metric_exports']} metric exports |  |  |  |",
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
        "Setup: as in the first section (fake upstream, `agentic serve llm-gateway`, key on a "
        "usage plan, ledger on SQLite, in-process limits), three gateways at once: telemetry "
        "off; on, recording every trace (a server span and a `chat` span per request); on, "
        "recording the given share of new traces. Both telemetry gateways export spans "
        "(batched) and metrics (every 10 s) over OTLP/HTTP to a local collector in its own "
        "process that decodes every export, and serve /metrics. "
        f"{context['setup_rounds']}",
        "",
        body,
    ]
    lines += [f"\n{note}" for note in notes]
    return "\n".join(lines) + "\n"
