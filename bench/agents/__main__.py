"""``python -m bench.agents``: run the whole benchmark (``--help`` for the knobs)."""

from bench.agents.run import main

main()
