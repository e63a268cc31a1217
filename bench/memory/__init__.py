"""Memory gateway benchmark on LoCoMo: evidence recall@10, search and append latency."""
