"""LLM gateway overhead benchmark: the fake upstream, our gateway and LiteLLM's proxy,
measured side by side in one run (see docs/benchmarks.md and the design targets)."""
