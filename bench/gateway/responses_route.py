"""``python -m bench.gateway.responses_route``: the added latency of ``/llm/v1/responses``.

The fake upstream and one gateway (set up as in the main benchmark: a real key on a usage
plan, the ledger on SQLite) are started; then the upstream directly, the gateway's
``/chat/completions`` and its ``/responses`` (the same request in the Responses API's shape,
translated to the same upstream call) take turns at a fixed open-loop rate. Added latency is
the gateway's minus the upstream's at the same percentile; the server's CPU time per request
is counted too (it hardly moves when other work shares the machine, unlike latency). Prints
the figures; the docs line is written from them."""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
from contextlib import ExitStack
from pathlib import Path

from bench.gateway import load, machine, procs, targets
from bench.gateway.loadgen import percentiles_ms


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.gateway.responses_route")
    parser.add_argument("--rate", type=float, default=200, help="requests/s offered")
    parser.add_argument("--seconds", type=int, default=12, help="measured seconds per target")
    parser.add_argument("--rounds", type=int, default=3, help="turns the targets take")
    parser.add_argument("--connections", type=int, default=64, help="at most this many")
    return parser.parse_args()


def _check_responses(target: targets.Target) -> None:
    reply = procs.http_call(
        target.server.port,
        target.chat_path,
        method="POST",
        body=target.body.encode(),
        headers=target.headers,
    )
    if reply.status != 200 or reply.json().get("object") != "response":
        raise RuntimeError(f"/responses did not answer a response: {reply}")


def _rounds(
    running: list[targets.Target], args: argparse.Namespace
) -> dict[str, dict[str, object]]:
    """The targets take turns at the fixed rate (a different one first each round); each
    slice also counts the server's CPU time, which other work on the machine hardly moves."""
    latencies: dict[str, list[float]] = {t.name: [] for t in running}
    counts: dict[str, list[int]] = {t.name: [0, 0] for t in running}  # requests, ok
    cpu: dict[str, float] = dict.fromkeys(latencies, 0.0)
    slice_seconds = max(1, round(args.seconds / args.rounds))
    for turn in range(args.rounds):
        shift = turn % len(running)
        for target in [*running[shift:], *running[:shift]]:
            pid = target.server.process.pid
            before = procs.tree_cpu(pid)
            result = load.loadgen(
                target,
                "rate",
                seconds=slice_seconds,
                warmup=1,
                rate=args.rate,
                connections=args.connections,
            )
            cpu[target.name] += procs.tree_cpu(pid) - before
            latencies[target.name] += [value / 1000 for value in result["latencies_ms"]]
            counts[target.name][0] += int(result["requests"])
            counts[target.name][1] += int(result["ok"])
            procs.wait_idle(pid)
    return {
        name: {
            "requests": counts[name][0],
            "ok": counts[name][1],
            "latency_ms": percentiles_ms(latencies[name]),
            # the slice's one unmeasured second is counted in the CPU time: an upper bound
            "cpu_ms_per_request_at_most": cpu[name] * 1000 / max(counts[name][0], 1),
        }
        for name in latencies
    }


def main() -> None:
    args = _args()
    logs = targets.BENCH_DIR / "results" / "responses-route"
    logs.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-responses-") as tmp, ExitStack() as stack:
        direct = targets.start_upstream(logs)
        stack.callback(direct.server.stop)
        gateway = targets.start_gateway(direct, Path(tmp), logs)
        stack.callback(gateway.server.stop)
        responses = dataclasses.replace(
            gateway, name="responses", chat_path="/llm/v1/responses", body=targets.RESPONSES_BODY
        )
        _check_responses(responses)
        others = machine.OtherLoad().start()
        measured = _rounds([direct, gateway, responses], args)
    other_cores = others.cores()  # once the servers are stopped and reaped
    upstream = measured["direct"]["latency_ms"]
    assert isinstance(upstream, dict)
    for name in ("gateway", "responses"):
        result = measured[name]
        latency = result["latency_ms"]
        assert isinstance(latency, dict)
        added = {p: round(latency[p] - upstream[p], 3) for p in ("p50", "p90", "p99")}
        print(
            f"{name} ({'/llm/v1/responses' if name == 'responses' else '/chat/completions'}): "
            f"{result['ok']}/{result['requests']} ok; latency p50 {latency['p50']:.3f} ms; "
            f"added {added}; server CPU <= {result['cpu_ms_per_request_at_most']:.3f} ms/request"
        )
    print(f"other processes used {other_cores:.2f} cores on average meanwhile")
    (logs / "results.json").write_text(json.dumps(measured, default=str, indent=1))


if __name__ == "__main__":
    main()
