"""``python -m bench.gateway``: run the whole benchmark (``--help`` for the knobs)."""

from bench.gateway.run import main

main()
