"""How busy the machine is with work that is not the benchmark's.

Every figure here is CPU-bound on two cores, so anything else running (a test suite, a model)
moves them. The run reports how many cores other processes used while it measured, and can
wait for a quiet machine before it starts.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

_TICKS = os.sysconf("SC_CLK_TCK")


def _busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (all cores)."""
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / _TICKS


def _own_seconds() -> float:
    """CPU seconds of this process and of every child it has waited for."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


@dataclass
class OtherLoad:
    """Measures the cores used by other processes between ``start`` and ``cores``."""

    busy: float = 0.0
    own: float = 0.0
    wall: float = 0.0

    def start(self) -> OtherLoad:
        self.busy, self.own, self.wall = _busy_seconds(), _own_seconds(), time.monotonic()
        return self

    def cores(self) -> float:
        """Average cores used by others since ``start`` (valid once all children are reaped)."""
        elapsed = time.monotonic() - self.wall
        others = (_busy_seconds() - self.busy) - (_own_seconds() - self.own)
        return max(others, 0.0) / elapsed if elapsed > 0 else 0.0


def wait_until_quiet(max_seconds: float, threshold: float = 0.25, window: float = 3.0) -> float:
    """Wait (up to ``max_seconds``) for a ``window`` in which other processes use less than
    ``threshold`` cores; returns the last window's figure."""
    deadline = time.monotonic() + max_seconds
    while True:
        probe = OtherLoad().start()
        time.sleep(window)
        used = probe.cores()
        if used < threshold or time.monotonic() >= deadline:
            return used
        print(f"  waiting for a quiet machine: other processes use {used:.1f} cores", flush=True)
