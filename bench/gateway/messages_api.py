"""``python -m bench.gateway.messages_api``: the latency the Anthropic Messages route adds.

The fake upstream and one gateway (as in ``python -m bench.gateway``: its key on a usage
plan, the ledger on) are started; then, taking turns at a fixed offered rate, the upstream is
called directly, the gateway's ``/llm/v1/chat/completions`` with the benchmark's request,
and its ``/llm/v1/messages`` with the same request in Anthropic's shape (translated to the
canonical request, sent upstream as a chat completion, translated back). Added latency is
route minus upstream at the same percentile; the target is p50 ≤ 1 ms."""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.gateway import load, machine, procs, targets

REPO = Path(__file__).resolve().parents[2]


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.gateway.messages_api", description=__doc__
    )
    parser.add_argument("--rate", type=float, default=500, help="requests/s offered")
    parser.add_argument("--seconds", type=int, default=12, help="measured seconds per route")
    parser.add_argument("--rounds", type=int, default=3, help="turns the routes take")
    parser.add_argument("--connections", type=int, default=64, help="connections at most")
    parser.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS")
    return parser.parse_args()


def _check_messages(target: targets.Target) -> None:
    """Guard against measuring a route that does not answer a real message."""
    headers = {"Content-Type": "application/json", **target.headers}
    reply = procs.http_call(
        target.server.port,
        target.chat_path,
        method="POST",
        body=target.body.encode(),
        headers=headers,
    )
    answer = reply.json() if reply.status == 200 else {}
    if answer.get("type") != "message" or not answer.get("content"):
        raise RuntimeError(f"/llm/v1/messages answered HTTP {reply.status}: {reply.body[:200]!r}")


def main() -> None:
    args = _args()
    logs = REPO / "bench" / "results" / "gateway-messages"
    logs.mkdir(parents=True, exist_ok=True)
    if args.wait_quiet > 0:
        machine.wait_until_quiet(args.wait_quiet)
    others = machine.OtherLoad().start()
    with tempfile.TemporaryDirectory(prefix="bench-messages-") as tmp:
        direct = targets.start_upstream(logs)
        try:
            chat = targets.start_gateway(direct, Path(tmp), logs)
            try:
                messages = replace(
                    chat, name="messages", chat_path="/llm/v1/messages", body=targets.MESSAGES_BODY
                )
                _check_messages(messages)
                measured = load.rate_rounds(
                    [direct, chat, messages],
                    rate=args.rate,
                    seconds=args.seconds,
                    rounds=args.rounds,
                    connections=args.connections,
                )
            finally:
                chat.server.stop()
        finally:
            direct.server.stop()
    cores = others.cores()
    _report(measured, args, cores)
    (logs / "results.json").write_text(json.dumps({"other_cores": cores, **measured}, indent=2))


def _report(measured: dict[str, dict[str, Any]], args: argparse.Namespace, cores: float) -> None:
    base = measured["direct"]["latency_ms"]
    print(f"at {args.rate:g} req/s; other processes used {cores:.2f} cores on average")
    for name in ("direct", "gateway", "messages"):
        result = measured[name]
        p50, p95, p99 = (result["latency_ms"][p] for p in ("p50", "p95", "p99"))
        line = f"{name:>9}: p50 {p50:.2f} / p95 {p95:.2f} / p99 {p99:.2f} ms"
        line += f", {result['rate']:.0f} req/s, {result['non_2xx'] + result['errors']} failed"
        if name != "direct":
            line += f"; added p50 {p50 - base['p50']:.2f} / p99 {p99 - base['p99']:.2f} ms"
        print(line)


if __name__ == "__main__":
    main()
