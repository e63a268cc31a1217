"""The gateway benchmark, end to end, in one run.

The fake upstream, the gateway and LiteLLM are started together (an idle one uses next to no
CPU) and then take turns: throughput at fixed concurrency (wrk/hey) in rounds, latency at a
fixed rate (open loop) in rounds, and time to first token one stream each in turn, with each
server's resident memory sampled throughout. Taking turns matters on a shared machine: what
else runs there slows all three alike instead of whichever happened to go last.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path

from bench.gateway import load, machine, procs, targets, telemetry_cost, ttft
from bench.gateway.report import (
    NO_JOURNAL_SECTION,
    REDIS_SECTION,
    SECTION,
    WEIGHTED_SECTION,
    Measured,
    section,
    table,
    write_section,
)

REPO = targets.BENCH_DIR.parent
DOC = REPO / "docs" / "benchmarks.md"
RESULTS = targets.BENCH_DIR / "results"


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.gateway", description=__doc__)
    parser.add_argument("--connections", type=int, default=64, help="throughput concurrency")
    parser.add_argument(
        "--seconds", type=int, default=12, help="measured seconds per target and load phase"
    )
    parser.add_argument("--rounds", type=int, default=3, help="turns the targets take per phase")
    parser.add_argument("--warmup", type=float, default=3, help="unmeasured seconds first")
    parser.add_argument("--rate", type=float, default=500, help="requests/s, latency phase")
    parser.add_argument("--streams", type=int, default=200, help="streams per target (TTFT)")
    parser.add_argument("--skip-litellm", action="store_true", help="measure without the peer")
    parser.add_argument("--no-docs", action="store_true", help="do not update docs/benchmarks.md")
    parser.add_argument(
        "--limits-url",
        default="memory://",
        help="the gateway's counter store: memory:// (in-process) or redis://host:port/db",
    )
    parser.add_argument(
        "--no-journal",
        action="store_true",
        help="run the gateway with the usage journal off (to measure what it costs)",
    )
    parser.add_argument(
        "--weighted",
        action="store_true",
        help="serve the gateway's alias from two deployments balanced by weight (to measure "
        "what routing costs)",
    )
    parser.add_argument(
        "--telemetry",
        action="store_true",
        help="measure instead what telemetry costs: the gateway with it off and on, side by "
        "side, exporting to a local collector (bench/gateway/telemetry_cost.py)",
    )
    parser.add_argument(
        "--telemetry-sampling",
        type=float,
        default=0.1,
        help="with --telemetry: the sampling ratio of the third gateway",
    )
    parser.add_argument(
        "--telemetry-before",
        metavar="DIR",
        default=None,
        help="with --telemetry: also run the telemetry gateways from the checkout in DIR "
        "(its src/ first on PYTHONPATH), side by side with the current code",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="SECONDS",
        help="first wait up to this long for other processes to leave the CPUs alone",
    )
    return parser.parse_args()


def _context(args: argparse.Namespace, litellm_version: str | None) -> dict[str, object]:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    versions = targets.versions()
    versions["load"] = load.tool_version(load.tool())
    if litellm_version:
        versions["litellm"] = litellm_version
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory": f"{memory:.0f} GiB RAM",
        "kernel": f"{platform.system()} {platform.release()}",
        "versions": versions,
        "setup": _setup(args),
    }


def _setup(args: argparse.Namespace) -> str:
    """What was measured, how, in words for the docs."""
    counters = (
        "in the process (`memory://`)"
        if args.limits_url.startswith("memory://")
        else "in Redis on loopback (`AGENTIC_LIMITS__URL`), shared as by several replicas"
    )
    journal = (
        " (usage journal off: `AGENTIC_GOVERNANCE__LEDGER_JOURNAL=false`)"
        if args.no_journal
        else ", each record first appended to the usage journal"
    )
    return " ".join(
        [
            "Setup: a fake OpenAI-compatible upstream (raw uvloop protocol, canned answers)",
            "on loopback in its own process. The gateway as `agentic serve llm-gateway`",
            "(one uvicorn worker, uvloop + httptools, request log off), checking a real API",
            "key on every request, the key on a usage plan (request, token, concurrency and",
            "budget limits far above the load: every request is counted, none refused) and",
            f"the usage ledger writing every request to SQLite{journal}; limit counters",
            f"{counters}.",
            "LiteLLM's proxy with one",
            "worker and a master key (`LITELLM_LOG=ERROR`,",
            "`LITELLM_LOCAL_MODEL_COST_MAP=True`). The same request body everywhere.",
            "All three run at once and take turns, the first one changing every round, so",
            "other work on the machine weighs on all of them alike.",
            f"Throughput: {load.tool()}, {args.connections} keep-alive connections,",
            f"{args.warmup:g} s of warm-up, then {args.rounds} turns adding up to",
            f"{args.seconds} s each; CPU time per request is the server process tree's",
            "user + system time over those turns. Latency: an open-loop generator at",
            f"{args.rate:g} req/s over up to {args.connections} connections, {args.rounds}",
            f"turns adding up to {args.seconds} s each, each turn after 1 s unmeasured",
            "(microsecond timer; requests that find every connection busy are not sent and",
            "are counted; added latency = proxy - upstream at the same percentile). Time to",
            f"first token: {args.streams} streams each, one at a time, in turns. Memory: the",
            "resident set of each server's process tree, sampled every 0.25 s under load.",
        ]
    )


def _start_litellm(
    direct: targets.Target, args: argparse.Namespace, work: Path, logs: Path, notes: list[str]
) -> tuple[targets.Target | None, str | None]:
    if args.skip_litellm:
        notes.append("LiteLLM was not measured in this run (--skip-litellm).")
        return None, None
    print("LiteLLM proxy...", flush=True)
    binary, reason = targets.ensure_litellm(logs / "litellm-install.log")
    if binary is None:
        print(f"  skipping LiteLLM: {reason}", flush=True)
        notes.append(f"LiteLLM skipped: {reason}")
        return None, None
    version = targets.litellm_version()
    try:
        return targets.start_litellm(binary, direct, work, logs), version
    except RuntimeError as error:
        print(f"  skipping LiteLLM: it did not start: {error}", flush=True)
        notes.append("LiteLLM skipped: it did not start (see its log in bench/results).")
        return None, version


def _start_all(
    args: argparse.Namespace, work: Path, logs: Path, notes: list[str], stack: ExitStack
) -> tuple[list[targets.Target], str | None]:
    """Upstream, gateway and (if it can be had) LiteLLM, each stopped when ``stack`` closes."""
    print("fake upstream...", flush=True)
    direct = targets.start_upstream(logs)
    stack.callback(direct.server.stop)
    print("gateway...", flush=True)
    gateway = targets.start_gateway(
        direct,
        work,
        logs,
        limits_url=args.limits_url,
        journal=not args.no_journal,
        deployments=2 if args.weighted else 1,
    )
    stack.callback(gateway.server.stop)
    if gateway.note:
        print(f"  the key is on no usage plan: {gateway.note}", flush=True)
        notes.append(f"The gateway's key could not be put on a usage plan: {gateway.note}")
    litellm, version = _start_litellm(direct, args, work, logs, notes)
    if litellm is None:
        return [direct, gateway], version
    stack.callback(litellm.server.stop)
    return [direct, gateway, litellm], version


def load_rounds(
    running: list[targets.Target], args: argparse.Namespace, work: Path
) -> tuple[dict[str, load.Throughput], dict[str, dict[str, object]]]:
    """Throughput, then latency at a fixed rate, every target taking turns in both."""
    names = ", ".join(t.name for t in running)
    print(f"throughput at {args.connections} connections, in turns: {names}...", flush=True)
    throughput = load.throughput_rounds(
        running,
        connections=args.connections,
        seconds=args.seconds,
        warmup=args.warmup,
        rounds=args.rounds,
        work=work,
    )
    print(f"latency at {args.rate:g} req/s, in turns...", flush=True)
    latency = load.rate_rounds(
        running,
        rate=args.rate,
        seconds=args.seconds,
        rounds=args.rounds,
        connections=args.connections,
    )
    return throughput, latency


def _measure(
    running: list[targets.Target], args: argparse.Namespace, work: Path
) -> dict[str, Measured]:
    results = {
        t.name: Measured(t.name, rss_idle=procs.tree_rss(t.server.process.pid)) for t in running
    }
    with ExitStack() as sampling:
        samplers = {
            t.name: sampling.enter_context(procs.RssSampler(t.server.process.pid)) for t in running
        }
        rounds, latencies = load_rounds(running, args, work)
        for name, measured in rounds.items():
            results[name].throughput = measured
        for name, measured_rate in latencies.items():
            results[name].rate = measured_rate
    for name, sampler in samplers.items():
        results[name].rss_peak = sampler.peak
    print(f"time to first token, {args.streams} streams each, in turns...", flush=True)
    times = ttft.measure(running, streams=args.streams)
    direct = running[0].name
    for target in running[1:]:
        results[target.name].ttft = times[target.name]
        results[target.name].ttft_direct = times[direct]
    return results


def _measure_all(
    args: argparse.Namespace, logs: Path, notes: list[str]
) -> tuple[tuple[Measured, Measured, Measured], str | None]:
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp, ExitStack() as stack:
        running, litellm_version = _start_all(args, Path(tmp), logs, notes, stack)
        results = _measure(running, args, Path(tmp))
    litellm = results.get("litellm", Measured("litellm"))
    return (results["direct"], results["gateway"], litellm), litellm_version


def _title(args: argparse.Namespace) -> str:
    """The docs section a run replaces: a journal-off or weighted run never overwrites the
    default one."""
    if args.no_journal:
        return NO_JOURNAL_SECTION
    if args.weighted:
        return WEIGHTED_SECTION
    return SECTION if args.limits_url.startswith("memory://") else REDIS_SECTION


def _telemetry_cost(
    args: argparse.Namespace, logs: Path, notes: list[str], others: machine.OtherLoad
) -> None:
    context = _context(args, None)
    if args.telemetry_before:
        before = Path(args.telemetry_before)
        described = subprocess.run(
            ["git", "-C", str(before), "log", "-1", "--format=%h %s"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        context["before"] = described or str(before)
        context["now"] = subprocess.run(
            ["git", "-C", str(REPO), "log", "-1", "--format=%h %s"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    context["setup_rounds"] = (
        f"Throughput: {load.tool()}, {args.connections} keep-alive connections, "
        f"{args.warmup:g} s of warm-up each, then {args.rounds} turns adding up to "
        f"{args.seconds} s each, a different gateway first each turn. Latency: the open-loop "
        f"generator at {args.rate:g} req/s, {args.rounds} turns adding up to {args.seconds} s "
        "each."
    )
    with tempfile.TemporaryDirectory(prefix="bench-telemetry-") as tmp:
        body = telemetry_cost.run(args, logs, Path(tmp), context, load_rounds)
    context["other_cores"] = round(others.cores(), 2)
    if context["other_cores"] >= 0.25:
        notes.append(
            f"Other processes used {context['other_cores']:g} cores on average during this run."
        )
    print(f"\n{body}")
    print(f"\nraw results and server logs: {logs.relative_to(REPO)}")
    if not args.no_docs:
        command = f"`python -m bench.gateway {shlex.join(sys.argv[1:])}`"
        text = telemetry_cost.section(body, command, context, notes)
        write_section(DOC, text, title=telemetry_cost.TITLE)
        print(f"updated {DOC.relative_to(REPO)}")


def main() -> None:
    args = _args()
    if load.tool() == "python":
        print(f"note: neither wrk nor hey is installed; {load.INSTALL_HINT}", file=sys.stderr)
    logs = RESULTS / f"gateway-{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%SZ')}"
    logs.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    if args.wait_quiet > 0:
        machine.wait_until_quiet(args.wait_quiet)
    others = machine.OtherLoad().start()
    if args.telemetry:
        _telemetry_cost(args, logs, notes, others)
        return
    results, litellm_version = _measure_all(args, logs, notes)
    context = _context(args, litellm_version)
    other_cores = round(others.cores(), 2)
    context["other_cores"] = other_cores
    if other_cores >= 0.25:
        warning = (
            f"Other processes used {other_cores:g} of the {context['nproc']} cores on "
            "average during this run: every figure here is CPU-bound, so they are lower "
            "than on an idle machine (CPU time per request and the ratios much less so)."
        )
        print(f"\nwarning: {warning}")
        notes.append(warning)
    body = table(*results, rate=args.rate, conns=args.connections)
    print(f"\n{body}")
    raw = {"context": context, "results": [asdict(m) for m in results]}
    (logs / "results.json").write_text(json.dumps(raw, indent=2, default=str))
    print(f"\nraw results and server logs: {logs.relative_to(REPO)}")
    if not args.no_docs:
        given = sys.argv[1:]
        if given:
            command = f"`python -m bench.gateway {shlex.join(given)}`"
        else:
            command = "`python -m bench.gateway` (what `make bench-gateway` runs)"
        title = _title(args)
        text = section(body, command=command, context=context, notes=notes, title=title)
        write_section(DOC, text, title=title)
        print(f"updated {DOC.relative_to(REPO)}")
