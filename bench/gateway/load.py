"""Drive load at a target: closed-loop throughput and open-loop fixed-rate latency.

Throughput uses ``wrk`` when installed (C, one thread: it takes the least CPU away from the
servers on a 2-core machine), else ``hey``, else the Python generator in ``loadgen``. Fixed-rate
latency always uses ``loadgen``'s open-loop mode, which times requests to the microsecond.
Every run counts non-2xx answers and socket errors: a fast server that fails requests is not
fast.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench.gateway import procs
from bench.gateway.loadgen import percentiles_ms
from bench.gateway.targets import BENCH_DIR, CHAT_BODY, Target

INSTALL_HINT = "install a load generator for the throughput test: apt-get install -y wrk hey"


@dataclass(frozen=True, slots=True)
class Throughput:
    tool: str
    rate: float
    requests: int
    failed: int
    cpu_ms_per_request: float | None = None
    """The server's CPU time per request in the measured run: unlike the rate, it hardly
    moves when other work shares the machine."""


def tool() -> str:
    """The throughput load generator this machine has."""
    for name in ("wrk", "hey"):
        if shutil.which(name):
            return name
    return "python"


def tool_version(name: str) -> str:
    if name == "python":
        return "bench.gateway.loadgen"
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", name], capture_output=True, text=True, check=False
    )
    return f"{name} {out.stdout.strip() or '?'}"


def _lua(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal here


def wrk_script(target: Target, work: Path) -> Path:
    lines = [
        'wrk.method = "POST"',
        f"wrk.body = {_lua(CHAT_BODY)}",
        'wrk.headers["Content-Type"] = "application/json"',
    ]
    lines += [f"wrk.headers[{_lua(k)}] = {_lua(v)}" for k, v in target.headers.items()]
    script = work / f"wrk-{target.name}.lua"
    script.write_text("\n".join(lines) + "\n")
    return script


def _run(argv: list[str], timeout: float) -> str:
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({out.returncode}): {out.stderr[-500:]}")
    return out.stdout


def _number(pattern: str, text: str, default: float = 0.0) -> float:
    match = re.search(pattern, text)
    return float(match.group(1)) if match else default


def _wrk(target: Target, connections: int, seconds: float, work: Path) -> Throughput:
    script = wrk_script(target, work)
    # A slow server's answers still count: wrk's default 2 s timeout would call them failures.
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "30s"]
    argv += ["-s", str(script), target.url]
    text = _run(argv, seconds + 30)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    )
    socket_errors = sum(int(n) for n in errors.groups()) if errors else 0
    return Throughput(
        "wrk",
        _number(r"Requests/sec:\s+([\d.]+)", text),
        int(_number(r"(\d+) requests in", text)),
        int(_number(r"Non-2xx or 3xx responses: (\d+)", text)) + socket_errors,
    )


def _hey(target: Target, connections: int, seconds: float) -> Throughput:
    argv = ["hey", "-z", f"{seconds:g}s", "-c", str(connections), "-t", "30", "-m", "POST"]
    argv += ["-T", "application/json", "-d", CHAT_BODY]
    for name, value in target.headers.items():
        argv += ["-H", f"{name}: {value}"]
    text = _run([*argv, target.url], seconds + 30)
    statuses = {int(s): int(n) for s, n in re.findall(r"\[(\d{3})\]\s+(\d+) responses", text)}
    errors = sum(int(n) for n in re.findall(r"\[(\d+)\]\t", text.split("Error distribution:")[-1]))
    if "Error distribution:" not in text:
        errors = 0
    ok = sum(n for s, n in statuses.items() if 200 <= s < 300)
    total = sum(statuses.values()) + errors
    return Throughput("hey", _number(r"Requests/sec:\s+([\d.]+)", text), total, total - ok)


def loadgen(
    target: Target, mode: str, *, seconds: float, warmup: float, **extra: Any
) -> dict[str, Any]:
    """Run ``bench.gateway.loadgen`` in its own process and return its JSON summary."""
    argv = [sys.executable, "-m", "bench.gateway.loadgen", mode]
    argv += ["--port", str(target.server.port), "--path", target.chat_path, "--body", target.body]
    argv += ["--duration", str(seconds), "--warmup", str(warmup)]
    for name, value in target.headers.items():
        argv += ["--header", f"{name}: {value}"]
    for name, value in extra.items():
        argv += [f"--{name}", str(value)]
    out = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=seconds + warmup + 60,
        check=False,
        cwd=BENCH_DIR.parent,
    )
    if out.returncode != 0:
        raise RuntimeError(f"loadgen failed: {out.stderr[-800:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _rotated(targets: Sequence[Target], turn: int) -> list[Target]:
    shift = turn % len(targets)
    return [*targets[shift:], *targets[:shift]]


def throughput_rounds(
    targets: Sequence[Target],
    *,
    connections: int,
    seconds: int,
    warmup: float,
    rounds: int,
    work: Path,
) -> dict[str, Throughput]:
    """Requests/s at ``connections`` keep-alive connections and the server's CPU time per
    request, for every target: after one warm-up each, the targets take turns (``rounds``
    slices of ``seconds / rounds``, a different one first each round) so that whatever else
    the machine is doing falls on all of them alike."""
    name = tool()
    for target in targets:
        if warmup > 0:
            _measure(name, target, connections, warmup, work)
        procs.wait_idle(target.server.process.pid)
    runs: dict[str, list[Throughput]] = {target.name: [] for target in targets}
    slice_seconds = max(1, round(seconds / rounds))
    for turn in range(rounds):
        for target in _rotated(targets, turn):
            pid = target.server.process.pid
            cpu_before = procs.tree_cpu(pid)
            measured = _measure(name, target, connections, slice_seconds, work)
            cpu = procs.tree_cpu(pid) - cpu_before
            per_request = cpu * 1000 / measured.requests if measured.requests else None
            runs[target.name].append(replace(measured, cpu_ms_per_request=per_request))
            procs.wait_idle(pid)
    return {target: _merge_throughput(parts) for target, parts in runs.items()}


def _merge_throughput(parts: list[Throughput]) -> Throughput:
    requests = sum(part.requests for part in parts)
    cpu_ms = sum((part.cpu_ms_per_request or 0) * part.requests for part in parts)
    return Throughput(
        parts[0].tool,
        sum(part.rate for part in parts) / len(parts),  # equal slices: the mean rate
        requests,
        sum(part.failed for part in parts),
        cpu_ms / requests if requests else None,
    )


def _measure(name: str, target: Target, connections: int, seconds: float, work: Path) -> Throughput:
    if name == "wrk":
        return _wrk(target, connections, seconds, work)
    if name == "hey":
        return _hey(target, connections, seconds)
    result = loadgen(target, "closed", seconds=seconds, warmup=0, connections=connections)
    failed = int(result["non_2xx"]) + int(result["errors"])
    return Throughput("python", float(result["rate"]), int(result["requests"]), failed)


def rate_rounds(
    targets: Sequence[Target],
    *,
    rate: float,
    seconds: int,
    rounds: int,
    connections: int,
) -> dict[str, dict[str, Any]]:
    """Latency at a fixed offered rate (open loop) for every target, taking turns as in
    :func:`throughput_rounds`; each slice starts with one unmeasured second."""
    runs: dict[str, list[dict[str, Any]]] = {target.name: [] for target in targets}
    slice_seconds = max(1, round(seconds / rounds))
    for turn in range(rounds):
        for target in _rotated(targets, turn):
            runs[target.name].append(
                loadgen(
                    target,
                    "rate",
                    seconds=slice_seconds,
                    warmup=1,
                    rate=rate,
                    connections=connections,
                )
            )
            procs.wait_idle(target.server.process.pid)
    return {target: _merge_rate(parts, rate) for target, parts in runs.items()}


def _merge_rate(parts: list[dict[str, Any]], rate: float) -> dict[str, Any]:
    latencies = [value / 1000 for part in parts for value in part["latencies_ms"]]
    seconds = sum(float(part["seconds"]) for part in parts)
    merged: dict[str, Any] = {"target_rate": rate, "seconds": seconds}
    for key in ("requests", "ok", "non_2xx", "errors", "unfinished", "skipped"):
        merged[key] = sum(int(part[key]) for part in parts)
    merged["rate"] = merged["requests"] / seconds
    merged["latency_ms"] = percentiles_ms(latencies)
    return merged
