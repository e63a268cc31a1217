"""``python -m bench.retrieval``: run the whole benchmark (``--help`` for the knobs)."""

from bench.retrieval.run import main

main()
