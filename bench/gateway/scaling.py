"""The gateway with 1, 2 and 4 processes against one Redis and one database:
``python -m bench.gateway.scaling --workers 1,2,4``.

Every process is an ``agentic serve llm-gateway`` of its own (one uvicorn worker each, as a
replica is in Kubernetes) on its own port, all on one PostgreSQL database (a throwaway one on
the machine's server; ``--database sqlite`` shares one SQLite file instead) and one Redis for
the limit counters (a private ``redis-server`` unless ``--limits-url``), one key on one usage
plan. The load generator (``bench.gateway.loadgen``) spreads its keep-alive connections over
the processes in turn, as a load balancer would. All the processes are started first; each
configuration uses the first 1, 2 or 4 of them, the configurations taking turns round by
round like the targets of the main benchmark (the idle ones poll the change feed and flush
nothing). Per configuration: closed-loop throughput with its p50/p99 at that saturation, the
CPU time per request of the gateways and of Redis, and open-loop latency at a fixed rate.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from agentic_platform.testing import postgres
from agentic_platform.testing.redis_server import RedisServer
from bench.gateway import load, machine, procs, targets
from bench.gateway.report import write_section

TITLE = "## LLM gateway: 1, 2 and 4 processes on one Redis (bench/gateway/scaling.py)"
REPO = targets.BENCH_DIR.parent
DOC = REPO / "docs" / "benchmarks.md"
RESULTS = targets.BENCH_DIR / "results"


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.gateway.scaling", description=__doc__)
    parser.add_argument("--workers", default="1,2,4", help="process counts to compare")
    parser.add_argument("--connections", type=int, default=64, help="throughput concurrency")
    parser.add_argument("--seconds", type=int, default=12, help="measured seconds per phase")
    parser.add_argument("--rounds", type=int, default=3, help="turns per phase")
    parser.add_argument("--warmup", type=float, default=3, help="unmeasured seconds first")
    parser.add_argument("--rate", type=float, default=500, help="requests/s, latency phase")
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--limits-url", default=None, help="an existing Redis (default: own)")
    parser.add_argument("--no-docs", action="store_true", help="do not update the docs")
    parser.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS")
    return parser.parse_args()


def _database(kind: str, work: Path, stack: ExitStack) -> str:
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{work / 'shared.db'}"
    name = postgres.create_database()
    stack.callback(postgres.drop_database, name)
    base = postgres.POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base.replace('postgresql://', 'postgresql+asyncpg://')}/{name}"


def _redis(args: argparse.Namespace, stack: ExitStack) -> tuple[str, int | None]:
    """The limits URL and, for a private server, its pid (to count its CPU)."""
    if args.limits_url:
        return args.limits_url, None
    server = RedisServer()
    server.start()
    stack.callback(server.stop)
    return server.url, server._process.pid if server._process else None


def start_all(
    args: argparse.Namespace, most: int, work: Path, logs: Path, stack: ExitStack
) -> tuple[list[targets.Target], int | None]:
    upstream = targets.start_upstream(logs)
    stack.callback(upstream.server.stop)
    database = _database(args.database, work, stack)
    limits_url, redis_pid = _redis(args, stack)
    settings = {"AGENTIC_DATABASE_URL": database}
    key = targets.generate_key()
    gateways: list[targets.Target] = []
    for index in range(most):
        print(f"gateway process {index + 1} of {most}...", flush=True)
        gateway = targets.start_gateway(
            upstream,
            work,
            logs,
            limits_url=limits_url,
            name=f"gateway-{index + 1}",
            settings=settings,
            key=key,
            plan=index == 0,
        )
        stack.callback(gateway.server.stop)
        if gateway.note:
            raise RuntimeError(f"gateway {index + 1}: {gateway.note}")
        gateways.append(gateway)
    return gateways, redis_pid


def _cpu(gateways: list[targets.Target], redis_pid: int | None) -> tuple[float, float]:
    cpu = sum(procs.tree_cpu(g.server.process.pid) for g in gateways)
    return cpu, procs.tree_cpu(redis_pid) if redis_pid else 0.0


def _check_spread(used: list[targets.Target], before: list[float]) -> list[float]:
    """Each process's CPU seconds in a turn; a process that did almost nothing means the
    load did not reach it, and the figure would not be what it says."""
    spent = [procs.tree_cpu(g.server.process.pid) - b for g, b in zip(used, before, strict=True)]
    if len(used) > 1 and min(spent) < 0.2 * max(spent):
        raise RuntimeError(f"the load did not spread over the processes: CPU seconds {spent}")
    return spent


def measure(
    gateways: list[targets.Target],
    redis_pid: int | None,
    counts: list[int],
    args: argparse.Namespace,
) -> dict[int, dict[str, Any]]:
    """Throughput rounds, then fixed-rate rounds, each configuration in turn."""
    slice_seconds = max(1, round(args.seconds / args.rounds))
    closed: dict[int, list[dict[str, Any]]] = {n: [] for n in counts}
    cpu: dict[int, list[float]] = {n: [0.0, 0.0] for n in counts}
    spread: dict[int, list[list[float]]] = {n: [] for n in counts}
    for n in counts:
        load.loadgen(
            gateways[0],
            "closed",
            seconds=args.warmup,
            warmup=0,
            ports=[g.server.port for g in gateways[:n]],
            connections=args.connections,
        )
    print(f"throughput at {args.connections} connections, in turns: {counts}...", flush=True)
    for turn in range(args.rounds):
        for n in counts[turn % len(counts) :] + counts[: turn % len(counts)]:
            used = gateways[:n]
            before = _cpu(used, redis_pid)
            each = [procs.tree_cpu(g.server.process.pid) for g in used]
            closed[n].append(
                load.loadgen(
                    used[0],
                    "closed",
                    seconds=slice_seconds,
                    warmup=0,
                    ports=[g.server.port for g in used],
                    connections=args.connections,
                )
            )
            spread[n].append(_check_spread(used, each))
            after = _cpu(used, redis_pid)
            cpu[n][0] += after[0] - before[0]
            cpu[n][1] += after[1] - before[1]
            for gateway in used:
                procs.wait_idle(gateway.server.process.pid)
    print(f"latency at {args.rate:g} req/s, in turns...", flush=True)
    rate: dict[int, list[dict[str, Any]]] = {n: [] for n in counts}
    for turn in range(args.rounds):
        for n in counts[turn % len(counts) :] + counts[: turn % len(counts)]:
            used = gateways[:n]
            rate[n].append(
                load.loadgen(
                    used[0],
                    "rate",
                    seconds=slice_seconds,
                    warmup=1,
                    ports=[g.server.port for g in used],
                    rate=args.rate,
                    connections=args.connections,
                )
            )
    results: dict[int, dict[str, Any]] = {}
    for n in counts:
        throughput = load._merge_rate(closed[n], 0)
        requests = throughput["requests"]
        results[n] = {
            "throughput": throughput,
            "gateway_cpu_ms_per_request": cpu[n][0] * 1000 / requests if requests else None,
            "redis_cpu_ms_per_request": cpu[n][1] * 1000 / requests if requests else None,
            "redis_cores": cpu[n][1] / (slice_seconds * args.rounds),
            "rate": load._merge_rate(rate[n], args.rate),
            "cpu_seconds_per_process_per_turn": spread[n],
        }
    return results


def table(results: dict[int, dict[str, Any]], args: argparse.Namespace) -> str:
    counts = sorted(results)
    one = results[counts[0]]["throughput"]["rate"]

    def row(label: str, cells: list[str]) -> str:
        return f"| {label} | " + " | ".join(cells) + " |"

    def pct(n: int, phase: str, p: str) -> str:
        return f"{results[n][phase]['latency_ms'][p]:.2f}"

    def number(value: float | None, digits: int = 3) -> str:
        return "—" if value is None else f"{value:.{digits}f}"

    lines = [
        "| figure | " + " | ".join(f"{n} process{'es' if n > 1 else ''}" for n in counts) + " |",
        "|---|" + "---|" * len(counts),
        row(
            f"throughput, {args.connections} connections (req/s)",
            [
                f"{results[n]['throughput']['rate']:,.0f} "
                f"({results[n]['throughput']['rate'] / one:.2f}x)"
                for n in counts
            ],
        ),
        row(
            "latency at that saturation, p50 / p99 (ms)",
            [f"{pct(n, 'throughput', 'p50')} / {pct(n, 'throughput', 'p99')}" for n in counts],
        ),
        row(
            "failed requests (non-2xx, errors) in the throughput run",
            [
                str(results[n]["throughput"]["non_2xx"] + results[n]["throughput"]["errors"])
                for n in counts
            ],
        ),
        row(
            "gateway CPU time per request, all processes (ms)",
            [number(results[n]["gateway_cpu_ms_per_request"]) for n in counts],
        ),
        row(
            "Redis CPU time per request (ms) · cores Redis used",
            [
                f"{number(results[n]['redis_cpu_ms_per_request'], 4)} · "
                f"{results[n]['redis_cores']:.2f}"
                for n in counts
            ],
        ),
        row(
            f"latency at {args.rate:g} req/s, p50 / p99 (ms)",
            [f"{pct(n, 'rate', 'p50')} / {pct(n, 'rate', 'p99')}" for n in counts],
        ),
        row(
            "achieved rate (req/s) · not sent, all connections busy",
            [
                f"{results[n]['rate']['rate']:,.0f} · {results[n]['rate']['skipped']}"
                for n in counts
            ],
        ),
    ]
    return "\n".join(lines)


def section(body: str, context: dict[str, Any], args: argparse.Namespace) -> str:
    database = (
        "one PostgreSQL database (a throwaway one on the machine's server)"
        if args.database == "postgresql"
        else "one shared SQLite file"
    )
    return "\n".join(
        [
            TITLE,
            "",
            f"Command: `{context['command']}` · date: {context['date']} · machine: "
            f"**{context['nproc']} cores** ({context['cpu']}) shared by the gateways, the load "
            "generator, the fake upstream, Redis and PostgreSQL · other processes used "
            f"{context['other_cores']:g} cores on average during the run",
            "",
            "Setup: each process an `agentic serve llm-gateway` of its own (one uvicorn "
            f"worker), all on {database} and one Redis for the limit counters (a private "
            "`redis-server` on loopback), one key on a usage plan (limits far above the load: "
            "every request counted in Redis, none refused), the ledger writing every request. "
            "The Python load generator spreads its keep-alive connections over the processes "
            "in turn (client-side balancing). Throughput: closed loop, "
            f"{args.connections} connections, {args.warmup:g} s warm-up each, then "
            f"{args.rounds} turns adding up to {args.seconds} s each, a different "
            "configuration first each turn; CPU time per request is the gateway processes' "
            "(and Redis's) user + system time over those turns. Latency: open loop at "
            f"{args.rate:g} req/s, {args.rounds} turns adding up to {args.seconds} s each.",
            "",
            body,
            "",
        ]
    )


def main() -> None:
    args = _args()
    counts = sorted({int(part) for part in args.workers.split(",") if part.strip()})
    logs = RESULTS / f"scaling-{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%SZ')}"
    logs.mkdir(parents=True, exist_ok=True)
    if args.wait_quiet > 0:
        machine.wait_until_quiet(args.wait_quiet)
    others = machine.OtherLoad().start()
    with tempfile.TemporaryDirectory(prefix="bench-scaling-") as tmp, ExitStack() as stack:
        gateways, redis_pid = start_all(args, max(counts), Path(tmp), logs, stack)
        results = measure(gateways, redis_pid, counts, args)
    context: dict[str, Any] = {
        "command": f"python -m bench.gateway.scaling {shlex.join(sys.argv[1:])}".strip(),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            "unknown CPU",
        ),
        "other_cores": round(others.cores(), 2),
        "versions": targets.versions(),
    }
    body = table(results, args)
    print(f"\n{body}")
    raw = {"context": context, "results": results}
    (logs / "results.json").write_text(json.dumps(raw, indent=2, default=str))
    print(f"\nraw results and server logs: {logs.relative_to(REPO)}")
    if not args.no_docs:
        write_section(DOC, section(body, context, args), title=TITLE)
        print(f"updated {DOC.relative_to(REPO)}")


if __name__ == "__main__":
    main()
