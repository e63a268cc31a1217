"""Which of an alias's deployments a call tries first, and which follow as fallbacks.

* ``ordered``: the listed order (the first is the primary, the rest are fallbacks).
* ``weighted``: the first is drawn at random in proportion to ``weight`` (a deployment of
  weight 0 is never drawn: it is only a fallback); the rest follow in the listed order.
* ``least-busy``: the one with the fewest calls in flight from this process first (ties go
  to the listed order), the rest by the same count.

Deployments that are cooling down (:mod:`.breaker`) go last: they are tried only when every
other one has failed or is cooling down too. The counts of calls in flight are this
process's own; a stream is in flight until it ends.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from agentic_platform.llm_gateway.breaker import Breakers, Key
from agentic_platform.llm_gateway.catalog import ModelEntry


class Balancer:
    def __init__(self, breakers: Breakers, draw: Callable[[], float] = random.random) -> None:
        self.breakers = breakers
        self._draw = draw
        self._in_flight: dict[Key, int] = {}

    def in_flight(self, key: Key) -> int:
        return self._in_flight.get(key, 0)

    def order(self, entry: ModelEntry) -> list[int]:
        """The deployment indices in the order this call tries them."""
        count = len(entry.deployments)
        if count == 1:
            return [0]
        alias = entry.alias
        if entry.strategy == "least-busy":
            counts = self._in_flight
            indices = sorted(range(count), key=lambda i: counts.get((alias, i), 0))
        elif entry.strategy == "weighted":
            indices = list(range(count))
            first = self._weighted(entry)
            if first:
                indices.remove(first)
                indices.insert(0, first)
        else:
            indices = list(range(count))
        if not self.breakers.tracking:
            return indices  # no deployment has failed lately: the common case
        available = self.breakers.available
        ready = [i for i in indices if available((alias, i))]
        if len(ready) < count:
            ready.extend(i for i in indices if i not in ready)
        return ready

    def _weighted(self, entry: ModelEntry) -> int:
        weights = [d.weight for d in entry.deployments]
        point = self._draw() * sum(weights)
        for index, weight in enumerate(weights):
            point -= weight
            if point < 0:
                return index
        return 0  # every weight 0: the listed order

    def started(self, key: Key) -> None:
        self._in_flight[key] = self._in_flight.get(key, 0) + 1
        self.breakers.started(key)

    def ended(self, key: Key) -> None:
        left = self._in_flight.get(key, 0) - 1
        if left > 0:
            self._in_flight[key] = left
        else:
            self._in_flight.pop(key, None)
