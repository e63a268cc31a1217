"""Retrieval benchmark: SciFact quality, query latency over HTTP, ingestion speed against the
raw embedder, and a 100,000-chunk scale run on the embedded and pgvector backends
(``python -m bench.retrieval``; results in docs/benchmarks.md)."""
