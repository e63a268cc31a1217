"""The retrieval section of docs/benchmarks.md: figures, targets, and whether each was met.
Only this section is replaced; the rest of the file is kept as it is."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.gateway import report as gateway_report

SECTION = "## Retrieval (bench/retrieval)"


def _verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


Row = tuple[str, str, str, str]


def _quality_rows(m: dict[str, Any]) -> list[Row]:
    hybrid, lat = m["hybrid"], m["latency"]
    return [
        (
            "nDCG@10, SciFact test (hybrid)",
            f"{hybrid['ndcg@10']:.3f}",
            "≥ 0.72",
            _verdict(hybrid["ndcg@10"] >= 0.72),
        ),
        (
            "recall@100, SciFact test (hybrid)",
            f"{hybrid['recall@100']:.3f}",
            "≥ 0.95",
            _verdict(hybrid["recall@100"] >= 0.95),
        ),
        (
            "nDCG@10 semantic only / lexical only",
            f"{m['semantic']['ndcg@10']:.3f} / {m['lexical']['ndcg@10']:.3f}",
            "(reference)",
            "",
        ),
        (
            "query latency over HTTP, top-10, p50 / p95",
            f"{lat['p50_ms']:.1f} / {lat['p95_ms']:.1f} ms",
            "p95 ≤ 25 ms",
            _verdict(lat["p95_ms"] <= 25),
        ),
    ]


def _speed_rows(m: dict[str, Any]) -> list[Row]:
    raw, ingest = m["raw"], m["ingest"]
    raw_rate = raw["documents"] / raw["seconds"]
    rate = ingest["documents"] / ingest["seconds"]
    return [
        (
            "ingestion through the API (jobs)",
            f"{rate:.1f} docs/s ({ingest['chunks']} chunks in {ingest['seconds']:.0f} s"
            f"{_others(ingest)})",
            "",
            "",
        ),
        (
            "raw packaged embedder on the same chunks",
            f"{raw_rate:.1f} docs/s ({raw['chunks']} chunks in {raw['seconds']:.0f} s"
            f"{_others(raw)})",
            "",
            "",
        ),
        (
            "ingestion / raw embedder, wall clock",
            f"{100 * rate / raw_rate:.0f}%",
            "≥ 90%",
            _verdict(rate >= 0.9 * raw_rate),
        ),
        (
            "ingestion / raw embedder, CPU time (the platform's whole process: HTTP, parsing, "
            "chunking, gateway, embedder, indexing, SQLite)",
            f"{100 * raw['cpu_seconds'] / ingest['cpu_seconds']:.0f}%",
            "≥ 90%",
            _verdict(raw["cpu_seconds"] >= 0.9 * ingest["cpu_seconds"]),
        ),
    ]


def _others(phase: dict[str, Any]) -> str:
    cores = phase.get("other_cores")
    return "" if cores is None else f"; other processes used {cores:.2f} cores meanwhile"


def _scale_rows(scale: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for name in ("embedded", "pgvector"):
        s, label = scale[name], f"{scale['records']:,} records, {name}"
        rows += [
            (
                f"{label}: semantic top-10 p50 / p95",
                f"{s['semantic_p50_ms']:.1f} / {s['semantic_p95_ms']:.1f} ms",
                "p95 ≤ 50 ms",
                _verdict(s["semantic_p95_ms"] <= 50),
            ),
            (
                f"{label}: recall@10 vs exact",
                f"{s['recall@10']:.3f}",
                "≥ 0.95",
                _verdict(s["recall@10"] >= 0.95),
            ),
            (
                f"{label}: hybrid top-10 p95; load time",
                f"{s['hybrid_p95_ms']:.1f} ms; {s['load_s']:.0f} s",
                "",
                "",
            ),
        ]
    return rows


def _rows(m: dict[str, Any]) -> list[Row]:
    return _quality_rows(m) + _speed_rows(m) + (_scale_rows(m["scale"]) if "scale" in m else [])


def section(
    measured: dict[str, Any], *, limit: int | None, reused: bool = False, scale_reused: bool = False
) -> str:
    lines = [
        SECTION,
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `python -m bench.retrieval`"
        + (f" --limit {limit}" if limit else "")
        + (" --reuse (ingestion and raw-embedder figures from the previous run)" if reused else "")
        + (" --skip-scale (scale figures from the previous run)" if scale_reused else "")
        + ": SciFact (5,183 abstracts; test split, 300 queries) through the HTTP API of "
        "`agentic up` on the embedded defaults (SQLite, packaged MiniLM int8 embedder, "
        "default chunking of 200 tokens with the title as context), hybrid search with the "
        "fusion tuned on the train split (`python -m bench.retrieval.tune`: BM25 k1 0.9, "
        "b 0.75, context weight 2, semantic weight 0.7; train nDCG@10 0.745). A document "
        "ranks by its best chunk. Other processes used "
        f"{measured['other_cores']:.2f} cores on average during the run (of 2).",
        "",
        "| figure | measured | target | |",
        "|---|---|---|---|",
    ]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in _rows(measured)]
    return "\n".join(lines) + "\n"


def write_section(path: Path, text: str) -> None:
    """Replace this benchmark's section in ``path`` (or append it), keeping the others."""
    gateway_report.write_section(path, text, title=SECTION)
