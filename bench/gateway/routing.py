"""What the routing bookkeeping of one call costs, alone: ``python -m bench.gateway.routing``.

For an alias of one deployment (ordered), two weighted and two least-busy, runs what the
gateway does around each call (the balancer's order, the in-flight count up and down, the
breaker's success) in rounds, and prints the best and median microseconds per call.
"""

from __future__ import annotations

import argparse
import statistics
import timeit

from agentic_platform.llm_gateway.balancing import Balancer
from agentic_platform.llm_gateway.breaker import Breakers, CooldownSettings
from agentic_platform.llm_gateway.catalog import Deployment, ModelEntry, Strategy


def _entry(strategy: Strategy, deployments: int) -> ModelEntry:
    return ModelEntry(
        alias="bench",
        strategy=strategy,
        deployments=[
            Deployment(provider="openai", model="fake", weight=i + 1) for i in range(deployments)
        ],
    )


def measure(strategy: Strategy, deployments: int, number: int, rounds: int) -> list[float]:
    """Microseconds per call, one figure a round."""
    entry = _entry(strategy, deployments)
    balancer = Balancer(Breakers(CooldownSettings()))

    def one() -> None:
        key = ("bench", balancer.order(entry)[0])
        balancer.started(key)
        balancer.ended(key)
        balancer.breakers.succeeded(key)

    return [t / number * 1e6 for t in timeit.repeat(one, number=number, repeat=rounds)]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.gateway.routing", description=__doc__)
    parser.add_argument("--number", type=int, default=100_000, help="calls per round")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    cases: list[tuple[Strategy, int]] = [("ordered", 1), ("weighted", 2), ("least-busy", 2)]
    for strategy, deployments in cases:
        per = measure(strategy, deployments, args.number, args.rounds)
        print(
            f"{strategy:10s} {deployments} deployment(s): best {min(per):.2f} µs, "
            f"median {statistics.median(per):.2f} µs per call"
        )


if __name__ == "__main__":
    main()
