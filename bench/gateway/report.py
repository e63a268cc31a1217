"""Turn measurements into the table printed to the terminal and kept in docs/benchmarks.md.

One table, one row per figure of docs' targets, one column per thing measured, then the target
and whether this run met it. The section of ``docs/benchmarks.md`` is replaced whole; the
other sections of the file are kept as they are.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.gateway.load import Throughput
from bench.gateway.ttft import StreamTimes

SECTION = "## LLM gateway (bench/gateway)"
REDIS_SECTION = "## LLM gateway with Redis limits (bench/gateway --limits-url)"
NO_JOURNAL_SECTION = "## LLM gateway with the usage journal off (bench/gateway --no-journal)"
WEIGHTED_SECTION = "## LLM gateway with a two-deployment weighted alias (bench/gateway --weighted)"
DOC_HEADER = (
    "# Benchmarks\n\n"
    "Measured side by side on one machine in one run; each section is written by its "
    "benchmark under `bench/` and names the command that produced it.\n"
)


@dataclass
class Measured:
    """What one target scored; a missing figure stays None."""

    name: str
    throughput: Throughput | None = None
    rate: dict[str, Any] | None = None
    ttft: StreamTimes | None = None
    ttft_direct: StreamTimes | None = None
    rss_idle: int | None = None
    rss_peak: int | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def requests_per_second(self) -> float | None:
        return None if self.throughput is None else self.throughput.rate

    def cpu_ms(self) -> float | None:
        return None if self.throughput is None else self.throughput.cpu_ms_per_request

    def latency(self, percentile: str) -> float | None:
        return None if self.rate is None else float(self.rate["latency_ms"][percentile])

    def ttft_ms(self) -> float | None:
        return _median_ms(self.ttft)

    def extra_ttft_ms(self) -> float | None:
        mine, direct = _median_ms(self.ttft), _median_ms(self.ttft_direct)
        return None if mine is None or direct is None else mine - direct


def _median_ms(times: StreamTimes | None) -> float | None:
    if times is None or not times.first_event:
        return None
    return statistics.median(times.first_event) * 1000


def _ms(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def _mb(value: int | None) -> str:
    return "—" if value is None else f"{value / 2**20:.0f}"


def _verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("yes" if ok else "**no**")


def _added(target: Measured, direct: Measured, percentile: str) -> float | None:
    mine, base = target.latency(percentile), direct.latency(percentile)
    return None if mine is None or base is None else mine - base


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    return numerator / denominator if numerator and denominator else None


Row = tuple[str, str, str, str, str, str]


def _throughput_rows(
    direct: Measured, gateway: Measured, litellm: Measured, conns: int
) -> list[Row]:
    columns = (direct, gateway, litellm)
    ratio = _ratio(gateway.requests_per_second(), litellm.requests_per_second())
    cpu_ratio = _ratio(litellm.cpu_ms(), gateway.cpu_ms())
    failed = [m.throughput.failed for m in columns if m.throughput is not None]
    return [
        (
            f"throughput, non-streaming, {conns} connections (req/s)",
            *_three(_rate(m.requests_per_second()) for m in columns),
            "≥ 20x LiteLLM",
            _verdict(None if ratio is None else ratio >= 20)
            + ("" if ratio is None else f" ({ratio:.1f}x)"),
        ),
        (
            "server CPU time per request in that run (ms)",
            *_three(_ms(m.cpu_ms(), 3) for m in columns),
            "",
            "" if cpu_ratio is None else f"LiteLLM needs {cpu_ratio:.0f}x the gateway's",
        ),
        (
            "failed requests in the throughput run",
            *_three("—" if m.throughput is None else str(m.throughput.failed) for m in columns),
            "0",
            _verdict(all(n == 0 for n in failed) if failed else None),
        ),
    ]


def _latency_rows(direct: Measured, gateway: Measured, litellm: Measured, rate: float) -> list[Row]:
    columns = (direct, gateway, litellm)
    sustained = None if gateway.rate is None else gateway.rate["skipped"] == 0
    gw50, gw99 = _added(gateway, direct, "p50"), _added(gateway, direct, "p99")
    met = None if gw50 is None or gw99 is None else gw50 <= 1 and gw99 <= 5 and bool(sustained)
    return [
        (
            f"latency at {rate:g} req/s, p50 / p95 / p99 (ms)",
            *_three(
                " / ".join(_ms(m.latency(p)) for p in ("p50", "p95", "p99")) if m.rate else "—"
                for m in columns
            ),
            "",
            "",
        ),
        (
            "achieved rate (req/s) · not sent, all connections busy",
            *_three(
                f"{m.rate['rate']:,.0f} · {m.rate['skipped']}" if m.rate else "—" for m in columns
            ),
            f"{rate:g} · 0",
            _verdict(sustained),
        ),
        (
            f"added latency at {rate:g} req/s, p50 / p99 (ms)",
            *_three(
                "—"
                if m is direct
                else f"{_ms(_added(m, direct, 'p50'))} / {_ms(_added(m, direct, 'p99'))}"
                for m in columns
            ),
            "≤ 1 / ≤ 5",
            _verdict(met),
        ),
    ]


def _other_rows(gateway: Measured, litellm: Measured, direct: Measured) -> list[Row]:
    extra = gateway.extra_ttft_ms()
    fits = None if gateway.rss_peak is None else gateway.rss_peak <= 150 * 2**20
    return [
        (
            "streaming time to first token, median (ms)",
            _ms(_median_ms(gateway.ttft_direct)),
            _ms(gateway.ttft_ms()),
            _ms(litellm.ttft_ms()),
            "",
            "",
        ),
        (
            "streaming: extra time to first token, median (ms)",
            "—",
            _ms(extra),
            _ms(litellm.extra_ttft_ms()),
            "≤ 2",
            _verdict(None if extra is None else extra <= 2),
        ),
        (
            "resident memory: idle / peak under load (MB)",
            *_three(f"{_mb(m.rss_idle)} / {_mb(m.rss_peak)}" for m in (direct, gateway, litellm)),
            "≤ 150",
            _verdict(fits),
        ),
    ]


def _three(cells: Iterable[str]) -> tuple[str, str, str]:
    first, second, third = cells
    return first, second, third


def table(
    direct: Measured, gateway: Measured, litellm: Measured, *, rate: float, conns: int
) -> str:
    rows = [
        *_throughput_rows(direct, gateway, litellm, conns),
        *_latency_rows(direct, gateway, litellm, rate),
        *_other_rows(gateway, litellm, direct),
    ]
    header = ("figure", "upstream direct", "gateway", "LiteLLM", "target", "met")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def section(
    body_table: str,
    *,
    command: str,
    context: dict[str, Any],
    notes: list[str],
    title: str = SECTION,
) -> str:
    """The whole section; ``command`` is Markdown (code spans included)."""
    versions = ", ".join(f"{k} {v}" for k, v in context["versions"].items())
    parts = [
        title,
        "",
        f"Command: {command} · date: {context['date']} · machine: {context['nproc']} cores, "
        f"{context['cpu']}, {context['memory']}, {context['kernel']} · other processes used "
        f"{context.get('other_cores', '?')} cores on average during the run",
        "",
        f"Versions: {versions}.",
        "",
        context["setup"],
        "",
        body_table,
    ]
    if notes:
        parts += ["", *[f"* {note}" for note in notes]]
    return "\n".join(parts) + "\n"


def write_section(path: Path, text: str, *, title: str = SECTION) -> None:
    """Replace this benchmark's section in ``path`` (or append it), keeping the others."""
    current = path.read_text() if path.exists() else DOC_HEADER
    lines = current.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == title), None)
    if start is None:
        updated = current.rstrip("\n") + "\n\n" + text
    else:
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        tail = "".join(lines[end:])
        updated = "".join(lines[:start]) + text + ("\n" + tail if tail else "")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(updated)
