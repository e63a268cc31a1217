"""Streaming time to first token, one stream at a time.

The targets (the upstream called directly among them) take turns, one stream each, on
keep-alive connections, so drift on the machine hits all alike and a proxy's difference from
the upstream is the time it adds before the first token. The clock runs from just before
the request is sent until the first ``data:`` event has been read; the rest of the stream is
then read to the end so the connection is reused.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp

from bench.gateway import aio
from bench.gateway.targets import STREAM_BODY, Target


@dataclass(frozen=True, slots=True)
class StreamTimes:
    """Seconds to the first event, one entry per stream."""

    first_event: list[float]
    failures: int


async def _one(session: aiohttp.ClientSession, target: Target) -> float | None:
    headers = {"Content-Type": "application/json", **target.headers}
    started = time.perf_counter()
    async with session.post(target.url, data=STREAM_BODY, headers=headers) as response:
        if response.status != 200:
            await response.read()
            return None
        first: float | None = None
        async for line in response.content:
            if first is None and line.startswith(b"data:"):
                first = time.perf_counter() - started
        return first


async def _interleaved(
    targets: Sequence[Target], streams: int, warmup: int
) -> dict[str, StreamTimes]:
    times: dict[str, list[float]] = {target.name: [] for target in targets}
    failures = dict.fromkeys(times, 0)
    connector = aiohttp.TCPConnector(limit=len(targets) * 2)
    async with aiohttp.ClientSession(connector=connector) as session:
        for index in range(warmup + streams):
            # Rotate who goes first so none always runs right after the same other one.
            shift = index % len(targets)
            for each in [*targets[shift:], *targets[:shift]]:
                took = await _one(session, each)
                if index < warmup:
                    continue
                if took is None:
                    failures[each.name] += 1
                else:
                    times[each.name].append(took)
    return {name: StreamTimes(times[name], failures[name]) for name in times}


def measure(targets: Sequence[Target], *, streams: int, warmup: int = 20) -> dict[str, StreamTimes]:
    """Time to first token of every target, one stream at a time, interleaved."""
    return aio.run(_interleaved(targets, streams, warmup))
