"""The benchmark's table, printed and kept in docs/benchmarks.md.

The section ``## Memory (bench/memory)`` holds two parts: raw-turn memories (extraction off)
and memories with extraction on (naming the model). A run replaces only its own part; the
other part and the other benchmarks' sections are kept as they are.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.gateway.report import DOC_HEADER
from bench.memory.locomo import TUNING, Conversation, Question

SECTION = "## Memory (bench/memory)"
RAW = "### Raw-turn memories (extraction off)"
EXTRACTED = "### With extraction on"
INTRO = (
    "LoCoMo dev (`../shared/datasets/locomo/locomo-dev.json`, 7 conversations), loaded turn "
    "by turn over HTTP into `agentic up` (SQLite, embedded index, packaged MiniLM embedder), "
    "one user per conversation; every question except category 5 (and two without evidence) "
    "searched with top_k 10; a question scores the share of its evidence turns among the "
    "results' sources. Search parameters were tuned on conv-26, conv-30 and conv-41 only; "
    "the other four are held out.\n"
)
TARGET_BASELINES = "BM25 0.590 · dense 0.518 · RRF 0.601"


@dataclass
class Timings:
    latencies: list[float]
    elapsed: float

    def ms(self, percentile: int) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] * 1000 if self.latencies else float("nan")
        return (
            statistics.quantiles(self.latencies, n=100, method="inclusive")[percentile - 1] * 1000
        )

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0


@dataclass
class Result:
    scores: list[tuple[Question, float]]
    by_conversation: dict[str, list[float]]
    appends: Timings
    searches: Timings
    throughput: Timings | None
    settle_seconds: float
    other_cores: dict[str, float]
    baselines: dict[str, float] | None = field(default=None)
    pace: float = 0.0
    extracted: tuple[int, int, int] | None = None
    """(memories stored, sessions, sessions whose latest extraction failed)."""
    freshness: list[float] = field(default_factory=list)
    """Seconds from a probe turn's append to the search that first found it, under load."""

    def recall(self, sample_ids: set[str] | None = None) -> float:
        values = [
            score
            for sample_id, scores in self.by_conversation.items()
            if sample_ids is None or sample_id in sample_ids
            for score in scores
        ]
        return statistics.fmean(values) if values else float("nan")


def _verdict(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _categories(result: Result) -> str:
    by: dict[int, list[float]] = defaultdict(list)
    for question, score in result.scores:
        by[question.category].append(score)
    return " · ".join(
        f"cat {c}: {statistics.fmean(v):.3f} ({len(v)})" for c, v in sorted(by.items())
    )


def _recall_rows(result: Result, conversations: list[Conversation]) -> list[str]:
    ids = {c.sample_id for c in conversations}
    tuning, held_out = ids & set(TUNING), ids - set(TUNING)
    overall = result.recall()
    base = result.baselines
    in_run = (
        f"BM25 {base['bm25']:.4f} · dense {base['dense']:.4f} · RRF {base['rrf']:.4f}"
        if base
        else "—"
    )
    questions = len(result.scores)
    rows = [
        f"| evidence recall@10, {len(ids)} conversation{'s' * (len(ids) != 1)} "
        f"({questions} questions) | "
        f"**{overall:.4f}** | {TARGET_BASELINES} | {in_run} | ≥ 0.75 | "
        f"{_verdict(overall >= 0.75)} |"
    ]
    if tuning and held_out:
        rows.append(
            f"| … tuned-on conversations ({', '.join(sorted(tuning))}) | "
            f"{result.recall(tuning):.4f} | | | | |"
        )
        rows.append(
            f"| … held-out conversations ({', '.join(sorted(held_out))}) | "
            f"{result.recall(held_out):.4f} | | | ≥ 0.75 | "
            f"{_verdict(result.recall(held_out) >= 0.75)} |"
        )
    rows.append(f"| … by LoCoMo category (questions) | {_categories(result)} | | | | |")
    return rows


def _extraction_rows(result: Result) -> list[str]:
    if result.extracted is None:
        return []
    memories, sessions, failed = result.extracted
    return [
        f"| memories stored by extraction; sessions whose latest batch was rejected | "
        f"{memories}; {failed} of {sessions} | | | — | |"
    ]


def _users(count: int) -> str:
    return f"{count} user" if count == 1 else f"{count} users"


def _extraction_note(result: Result) -> list[str]:
    if result.extracted is None or result.extracted[0] > 0:
        return []
    return [
        "",
        "No memory was stored: the model's replies were rejected as junk (not JSON, cut off, "
        "or not fitting the schema; each session's extraction status says which) or held no "
        "operation, so the results are the raw turns alone and recall equals the raw-turn "
        "figure.",
    ]


def _pace(pace: float) -> str:
    return f"each at most {pace:g} turns/s" if pace > 0 else "as fast as they can"


def _speed_rows(result: Result, users: int) -> list[str]:
    search, append = result.searches, result.appends
    rows = [
        f"| search latency over HTTP, p50 / p95 ({len(search.latencies)} searches, one at a "
        f"time) | {search.ms(50):.1f} / **{search.ms(95):.1f} ms** | | | ≤ 25 ms p95 | "
        f"{_verdict(search.ms(95) <= 25)} |",
        f"| append latency over HTTP while {_users(users)} load ({_pace(result.pace)}) and the "
        f"worker indexes, p50 / p95 | {append.ms(50):.1f} / **{append.ms(95):.1f} ms** | | | "
        f"≤ 25 ms p95 | {_verdict(append.ms(95) <= 25)} |",
        f"| load: {len(append.latencies)} turns by {_users(users)} at once | "
        f"{append.rate:.0f} appends/s | | | — | |",
    ]
    if result.throughput is not None:
        load = result.throughput
        rows.append(
            f"| append throughput, 16 concurrent writers ({len(load.latencies)} appends), "
            f"p50 / p95 | {load.rate:.0f} appends/s; {load.ms(50):.1f} / {load.ms(95):.1f} ms "
            "| | | — | |"
        )
    if result.freshness:
        fresh = Timings(result.freshness, 0.0)
        rows.append(
            f"| append to searchable while the 16 writers load ({len(fresh.latencies)} probes), "
            f"p50 / p95 / max | {fresh.ms(50) / 1000:.2f} / **{fresh.ms(95) / 1000:.2f}** / "
            f"{max(fresh.latencies):.2f} s | | | ≤ 1 s p95 | {_verdict(fresh.ms(95) <= 1000)} |"
        )
    rows.append(
        f"| every turn processed by the background worker, after the last append | "
        f"{result.settle_seconds:.0f} s | | | — | |"
    )
    return rows


def heading(model: str | None) -> str:
    """Each extraction model has its own part, beside the raw-turn one."""
    return RAW if model is None else f"{EXTRACTED} (model: `{model}`)"


def section(
    result: Result, conversations: list[Conversation], model: str | None, command: str
) -> str:
    lines = [
        heading(model),
        "",
        f"Command: `{command}` — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Other processes used "
        f"{result.other_cores['load']:.1f} cores while loading and "
        f"{result.other_cores['search']:.1f} while searching (2-core machine).",
        "",
        "| figure | this run | baselines (targets.md) | baselines, this run | target | met |",
        "|---|---|---|---|---|---|",
        *_recall_rows(result, conversations),
        *_extraction_rows(result),
        *_speed_rows(result, len(conversations)),
        *_extraction_note(result),
        "",
    ]
    return "\n".join(lines)


def _split(text: str, heading: str) -> tuple[str, str, str]:
    """(before, the part from ``heading`` to the next heading of its level or higher, after);
    the middle is empty when the heading is missing."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith(heading)), None)
    if start is None:
        return text, "", ""
    stops = ("## ",) if heading.startswith("## ") else ("## ", "### ")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith(stops)), len(lines))
    return "".join(lines[:start]), "".join(lines[start:end]), "".join(lines[end:])


def write(path: Path, part: str, model: str | None) -> None:
    """Replace this run's part of the memory section, keeping everything else."""
    current = path.read_text() if path.exists() else DOC_HEADER
    before, ours, after = _split(current, SECTION)
    if not ours:
        before, ours, after = current.rstrip("\n") + "\n\n", f"{SECTION}\n\n{INTRO}\n", ""
    head, _old, tail = _split(ours, heading(model))
    if not _old:
        head, tail = ours.rstrip("\n") + "\n\n", ""
    updated = before + head + part + ("\n" + tail if tail else "") + ("\n" + after if after else "")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(updated)
