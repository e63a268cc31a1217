"""``python -m bench.retrieval.documents``: the documents option on part of SciFact, fast.

Ingests the first ``--limit`` SciFact documents through the API of ``agentic up`` (embedded
defaults) and asks, over HTTP, the test queries whose judged documents are all among them:
top-10 searches as returned (no re-ranking by the client), with and without
``group_by: "document"``: nDCG@10, distinct documents in the top 10, and p50/p95 latency.
On a subset the figures are not comparable with the full run's (fewer, easier
distractors); the two settings are comparable with each other.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

from bench.gateway.machine import OtherLoad
from bench.retrieval import platform
from bench.retrieval.run import JOB_SIZE, RESULTS, latency, top10
from bench.retrieval.scifact import DEFAULT_DIR, SciFact


def _subset(dataset: SciFact, limit: int) -> SciFact:
    corpus = dataset.corpus[:limit]
    ids = {document["_id"] for document in corpus}
    test = {q: rel for q, rel in dataset.qrels["test"].items() if set(rel) <= ids}
    train = {q: rel for q, rel in dataset.qrels["train"].items() if set(rel) <= ids}
    return SciFact(corpus, dataset.queries, {"test": test, "train": train})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args()
    dataset = _subset(SciFact.load(args.dataset), args.limit)
    data_dir = RESULTS / "documents-data"
    shutil.rmtree(data_dir, ignore_errors=True)
    load = OtherLoad().start()
    running = platform.start(data_dir, RESULTS)
    measured: dict[str, Any] = {"documents": args.limit, "queries": len(dataset.qrels["test"])}
    try:
        with running.client() as http:
            http.post("knowledge-bases", json={"name": "scifact"}).raise_for_status()
            documents = dataset.documents()
            jobs = []
            for start in range(0, len(documents), JOB_SIZE):
                body = {"documents": documents[start : start + JOB_SIZE]}
                response = http.post("knowledge-bases/scifact/jobs", json=body)
                response.raise_for_status()
                jobs.append(response.json()["id"])
            platform.wait_for_jobs(http, "scifact", jobs)
            measured["chunk_count"] = http.get("knowledge-bases/scifact").json()["chunk_count"]
            for name, options in (("chunks", {}), ("documents", {"group_by": "document"})):
                measured[name] = top10(http, dataset, **options)
                measured[name] |= latency(http, dataset, **options)
                print(name, measured[name], flush=True)
    finally:
        running.server.stop()
    measured["other_cores"] = load.cores()
    print(json.dumps(measured))


if __name__ == "__main__":
    main()
