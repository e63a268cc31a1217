"""Runs every retrieval measurement in one go and writes the table to docs/benchmarks.md.

1. The raw packaged embedder on exactly the texts ingestion will embed (SciFact chunked as
   a knowledge base chunks it), in this process, on an otherwise idle platform.
2. The platform (``agentic up``, embedded defaults) in its own process: SciFact ingested
   through the API as jobs, timed from the first request until the last job finished.
3. Quality on the test split over HTTP (hybrid, and semantic and lexical for reference):
   chunks ranked by the API, a document ranked by its best chunk.
4. Query latency over HTTP: one query at a time, top 10, query embedding included.
5. The 100,000-record scale run on the embedded and pgvector backends (``bench.retrieval.scale``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

from bench.gateway import procs
from bench.gateway.machine import OtherLoad, wait_until_quiet
from bench.retrieval import platform, report, scale
from bench.retrieval.scifact import (
    SciFact,
    documents_in_order,
    ndcg_at,
    percentile,
    recall_at,
)

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results"
JOB_SIZE = 500


def raw_embedder_speed(dataset: SciFact, limit: int | None) -> dict[str, float]:
    """Documents per second of the packaged embedder alone, on the knowledge base's chunks."""
    from agentic_platform.llm_gateway.catalog import Deployment
    from agentic_platform.llm_gateway.providers.local_embedder import embedder_from_deployment
    from agentic_platform.retrieval.chunking import ChunkingSettings
    from agentic_platform.retrieval.ingest import prepare_document
    from agentic_platform.retrieval.schemas import DocumentIn

    documents = dataset.documents()[:limit]
    texts: list[str] = []
    for index, document in enumerate(documents):
        prepared = prepare_document(
            index, DocumentIn.model_validate(document), ChunkingSettings(), 1 << 30
        )
        texts.extend(prepared.embedding_texts())
    embedder = embedder_from_deployment(Deployment(provider="local", model="all-minilm-l6-v2"))

    async def embed_all() -> tuple[float, float]:
        await embedder.embed(texts[:8])  # load the model outside the timing
        started, cpu = time.perf_counter(), time.process_time()
        for start in range(0, len(texts), 64):
            await embedder.embed(texts[start : start + 64])
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        await embedder.aclose()
        return elapsed, cpu

    elapsed, cpu = asyncio.run(embed_all())
    return {
        "documents": len(documents),
        "chunks": len(texts),
        "seconds": elapsed,
        "cpu_seconds": cpu,
    }


def ingest(http: Any, dataset: SciFact, limit: int | None) -> dict[str, float]:
    created = http.post("knowledge-bases", json={"name": "scifact"})
    created.raise_for_status()
    documents = dataset.documents()[:limit]
    started = time.perf_counter()
    job_ids = []
    for start in range(0, len(documents), JOB_SIZE):
        body = {"documents": documents[start : start + JOB_SIZE]}
        response = http.post("knowledge-bases/scifact/jobs", json=body)
        response.raise_for_status()
        job_ids.append(response.json()["id"])
    jobs = platform.wait_for_jobs(http, "scifact", job_ids)
    elapsed = time.perf_counter() - started
    failed = sum(job["failed"] for job in jobs)
    kb = http.get("knowledge-bases/scifact").json()
    return {
        "documents": len(documents),
        "failed": failed,
        "chunks": kb["chunk_count"],
        "seconds": elapsed,
    }


def quality(http: Any, dataset: SciFact, search_type: str) -> dict[str, float]:
    judged = dataset.qrels["test"]
    ndcg, recall = [], []
    for query_id, relevant in judged.items():
        body = {"query": dataset.queries[query_id], "top_k": 300, "search_type": search_type}
        response = http.post("knowledge-bases/scifact/retrieve", json=body)
        response.raise_for_status()
        ranked = documents_in_order([c["document_id"] for c in response.json()["data"]])
        ndcg.append(ndcg_at(ranked, relevant, 10))
        recall.append(recall_at(ranked, relevant, 100))
    return {"ndcg@10": statistics.fmean(ndcg), "recall@100": statistics.fmean(recall)}


def top10(http: Any, dataset: SciFact, **options: Any) -> dict[str, float]:
    """What a top-10 search gives a user as it is returned (no re-ranking by the client):
    nDCG@10 of its document ids in order, and how many distinct documents it holds."""
    ndcg, distinct = [], []
    for query_id, relevant in dataset.qrels["test"].items():
        body = {"query": dataset.queries[query_id], "top_k": 10, **options}
        response = http.post("knowledge-bases/scifact/retrieve", json=body)
        response.raise_for_status()
        ids = [c["document_id"] for c in response.json()["data"]]
        distinct.append(len(set(ids)))
        ndcg.append(ndcg_at(documents_in_order(ids), relevant, 10))
    return {"ndcg@10": statistics.fmean(ndcg), "distinct@10": statistics.fmean(distinct)}


def latency(http: Any, dataset: SciFact, **options: Any) -> dict[str, float]:
    warm = list(dataset.qrels["train"])[:30]
    for query_id in warm:
        http.post("knowledge-bases/scifact/retrieve", json={"query": dataset.queries[query_id]})
    timings = []
    for query_id in dataset.qrels["test"]:
        body = {"query": dataset.queries[query_id], "top_k": 10, **options}
        started = time.perf_counter()
        response = http.post("knowledge-bases/scifact/retrieve", json=body)
        timings.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return {
        "p50_ms": percentile(timings, 0.5),
        "p95_ms": percentile(timings, 0.95),
        "queries": len(timings),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Retrieval benchmark (see docs/benchmarks.md).")
    parser.add_argument("--limit", type=int, default=None, help="ingest only the first N docs")
    parser.add_argument("--skip-scale", action="store_true", help="skip the 100k scale run")
    parser.add_argument("--scale-records", type=int, default=100_000)
    parser.add_argument("--no-docs", action="store_true", help="do not update docs/benchmarks.md")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the last run's ingested knowledge base and its speed figures "
        "(after tuning: re-measure quality, latency and scale only)",
    )
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    dataset = SciFact.load()
    print(f"other processes use {wait_until_quiet(120):.2f} cores", flush=True)
    load = OtherLoad().start()
    saved = RESULTS / "retrieval-ingest.json"
    measured: dict[str, Any] = json.loads(saved.read_text()) if args.reuse else {}
    measured.update(_through_the_api(dataset, args.limit, reuse=args.reuse))
    if not args.reuse:
        phase = OtherLoad().start()
        measured["raw"] = raw_embedder_speed(dataset, args.limit)
        measured["raw"]["other_cores"] = phase.cores()
        print("raw embedder", measured["raw"], flush=True)
        saved.write_text(json.dumps({k: measured[k] for k in ("raw", "ingest")}))
    everything = RESULTS / "retrieval-measured.json"
    if not args.skip_scale:
        measured["scale"] = scale.run(args.scale_records)
        print("scale", measured["scale"], flush=True)
    elif everything.exists():
        measured["scale"] = json.loads(everything.read_text()).get("scale")
    measured["other_cores"] = load.cores()
    everything.write_text(json.dumps(measured))
    text = report.section(
        measured, limit=args.limit, reused=args.reuse, scale_reused=args.skip_scale
    )
    print(text)
    if not args.no_docs:
        report.write_section(REPO / "docs" / "benchmarks.md", text)


def _through_the_api(dataset: SciFact, limit: int | None, *, reuse: bool) -> dict[str, Any]:
    """Ingestion (unless reusing the last run's knowledge base), quality and latency."""
    measured: dict[str, Any] = {}
    data_dir = RESULTS / "retrieval-data"
    if not reuse:
        shutil.rmtree(data_dir, ignore_errors=True)
    running = platform.start(data_dir, RESULTS)
    try:
        with running.client() as http:
            if not reuse:
                phase, server_cpu = OtherLoad().start(), procs.tree_cpu(running.server.process.pid)
                measured["ingest"] = ingest(http, dataset, limit)
                server_cpu = procs.tree_cpu(running.server.process.pid) - server_cpu
                measured["ingest"]["cpu_seconds"] = server_cpu
                seconds = measured["ingest"]["seconds"]
                measured["ingest"]["other_cores"] = max(0.0, phase.cores() - server_cpu / seconds)
                print("ingest", measured["ingest"], flush=True)
            for search_type in ("hybrid", "semantic", "lexical"):
                measured[search_type] = quality(http, dataset, search_type)
                print(search_type, measured[search_type], flush=True)
            measured["latency"] = latency(http, dataset)
            print("latency", measured["latency"], flush=True)
            for name, options in (("chunks", {}), ("documents", {"group_by": "document"})):
                measured[f"top10_{name}"] = top10(http, dataset, **options)
                print(f"top-10 {name}", measured[f"top10_{name}"], flush=True)
            measured["latency_documents"] = latency(http, dataset, group_by="document")
            print("latency, documents", measured["latency_documents"], flush=True)
    finally:
        running.server.stop()
    return measured
