"""The benchmark's table, printed and kept in docs/benchmarks.md (section ``## Agents``)."""

from __future__ import annotations

import statistics

from bench.agents.overhead import Overhead
from bench.agents.tokens import TokenRates

SECTION = "## Agents (bench/agents)"
OVERHEAD_TARGET_MS = 5.0
TOKENS_TARGET = 0.95


def _ms(values: list[float], percentile: int) -> float:
    if not values:
        return float("nan")
    if len(values) < 2:
        return values[0] * 1000
    return statistics.quantiles(values, n=100, method="inclusive")[percentile - 1] * 1000


def _pair(values: list[float]) -> str:
    return f"{_ms(values, 50):.2f} / {_ms(values, 95):.2f}"


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def overhead_rows(result: Overhead) -> list[str]:
    steps = result.steps
    per_step = result.per_step()
    p50 = _ms(per_step, 50)
    per_call = [took / steps for took in result.direct]
    return [
        f"| one run: {steps} model calls and {steps - 1} calculator calls, p50 / p95 (ms) | "
        f"{_pair(result.direct)} | {_pair(result.agent)} | | |",
        f"| run time per model call, p50 (ms) | {_ms(per_call, 50):.2f} | "
        f"{_ms([a / steps for a in result.agent], 50):.2f} | | |",
        f"| platform overhead per step beyond the direct loop, p50 / p95 (ms; {len(per_step)} "
        f"pairs) | — | {_pair(per_step)} | p50 ≤ {OVERHEAD_TARGET_MS:g} | "
        f"{_met(p50 <= OVERHEAD_TARGET_MS)} |",
        f"| failed runs | {result.failures['direct']} | {result.failures['agent']} | 0 | "
        f"{_met(not any(result.failures.values()))} |",
        f"| pairs whose requests differed (prompt tokens) | — | {result.differed} | 0 | "
        f"{_met(result.differed == 0)} |",
    ]


def token_rows(rates: TokenRates) -> list[str]:
    rows = []
    for rate, label in (("decode_rate", "decode"), ("end_to_end_rate", "end to end")):
        direct = TokenRates.median(rates.direct, rate)
        agent = TokenRates.median(rates.agent, rate)
        share = agent / direct if direct else float("nan")
        target = f"≥ {TOKENS_TARGET:.0%} of direct" if rate == "decode_rate" else ""
        met = f"{_met(share >= TOKENS_TARGET)} ({share:.1%})" if target else f"({share:.1%})"
        rows.append(
            f"| `{rates.model}` tokens/s, {label}, median of {len(rates.agent)} "
            f"(≤ {rates.max_tokens} tokens) | {direct:.1f} | {agent:.1f} | {target} | {met} |"
        )
    if rates.agent and rates.direct:
        rows.append(
            f"| tokens per answer, min / max | {min(r.tokens for r in rates.direct)} / "
            f"{max(r.tokens for r in rates.direct)} | {min(r.tokens for r in rates.agent)} / "
            f"{max(r.tokens for r in rates.agent)} | | |"
        )
    return rows


def table(overhead: Overhead | None, rates: TokenRates | None) -> str:
    rows = [
        "| figure | direct to the gateway | through the agent | target | met |",
        "|---|---|---|---|---|",
    ]
    if overhead is not None:
        rows += overhead_rows(overhead)
    if rates is not None:
        rows += token_rows(rates)
    return "\n".join(rows)


def setup(overhead: Overhead | None, rates: TokenRates | None, runs: int) -> str:
    text = (
        "Setup: `agentic up` with the llm-gateway and agents services in one process (SQLite, "
        "one uvicorn worker, request log off; memory off, so runs have no session), a user's "
        "API key, a client on keep-alive connections (aiohttp) in another process. "
    )
    if overhead is not None:
        text += (
            f"Overhead: {runs} pairs after unmeasured ones, the order alternating: `diy-agent` "
            "invoked through `/agents/v1` (its model calls reach the gateway in process, its "
            "tool calls run in the tool box, the run and its steps are recorded), and the same "
            "loop run by the client over HTTP against `/llm/v1/chat/completions` (same "
            "messages, tool definitions and calculator); the model is the scripted `test` "
            f"provider, answering after {overhead.steps - 1} calculator calls "
            "(`bench/agents/scripted.py`), so model time is next to nothing; overhead per "
            "step = (agent run - direct loop) / model calls, pair by pair. "
        )
    if rates is not None:
        text += (
            f"Tokens/s: the packaged `{rates.model}` (llama.cpp) streamed through a one-call "
            "agent without tools (`bench-plain`) and directly from the gateway with the same "
            "request (temperature 0), alternating; decode = tokens after the first over first "
            "to last text, end to end = tokens over request to last text, at the client."
        )
    return text.strip()
