"""``python -m bench.memory``: run the whole benchmark (``--help`` for the knobs)."""

from bench.memory.run import main

main()
