"""A small HTTP/1.1 load generator with microsecond latencies, run in its own process.

Two modes:

* ``rate``: open loop. Request *i* is sent at ``start + i / rate`` whether or not earlier
  ones have answered (no coordinated omission), over a pool of keep-alive connections that
  grows up to ``--connections``. A request that finds every connection busy is not sent and
  counts as *skipped*, so a server that cannot keep up shows it in the achieved rate and the
  skipped count instead of piling up a queue inside the generator.
  Latency is timed from the moment the request is written to the moment its last byte is
  read, on the generator's own uvloop, with ``perf_counter``. ``hey -q`` only reports to
  0.1 ms and wrk has no fixed-rate mode, hence this.
* ``closed``: ``--connections`` loops, each sending its next request when the previous
  answer arrives: the fallback throughput test when neither wrk nor hey is installed.

``--port`` given several times spreads the connections over those ports in turn (a client-side
load balancer over several server processes, as ``bench.gateway.scaling`` uses it).

Prints one JSON object: counts, achieved rate, latency percentiles and every latency in
milliseconds (so runs can be merged).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import re
import time
from dataclasses import dataclass, field
from typing import cast

from bench.gateway import aio

_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)
_CHUNKED = re.compile(rb"\r\ntransfer-encoding:\s*chunked", re.IGNORECASE)
_PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)


class Connection(asyncio.Protocol):
    """One keep-alive connection that carries one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = asyncio.get_running_loop().create_future()
        self._buffer = b""
        self._waiter: asyncio.Future[int] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but behave as one.
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(ConnectionError("connection closed"))
        if not self.closed.done():
            self.closed.set_result(None)

    def request(self, payload: bytes) -> asyncio.Future[int]:
        """Write one request; the future gives the response status once fully read."""
        assert self.transport is not None
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(payload)
        return self._waiter

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        status = _complete_response(self._buffer)
        if status is not None and self._waiter is not None and not self._waiter.done():
            self._buffer = b""
            self._waiter.set_result(status)


def _complete_response(buffer: bytes) -> int | None:
    """The status code if ``buffer`` holds one whole response, else None."""
    head_end = buffer.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    head = buffer[:head_end]
    body_start = head_end + 4
    length = _CONTENT_LENGTH.search(head)
    if length is not None:
        if len(buffer) - body_start < int(length.group(1)):
            return None
    elif _CHUNKED.search(head) and not buffer.endswith(b"0\r\n\r\n"):
        return None
    return int(head[9:12])


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    sent: int = 0
    errors: int = 0
    skipped: int = 0


def _request_bytes(args: argparse.Namespace) -> bytes:
    body: bytes = args.body.encode()
    lines = [
        f"{args.method} {args.path} HTTP/1.1",
        f"Host: {args.host}:{args.port[0]}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    lines += list(args.header)
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Pool:
    """Keep-alive connections, at most ``limit`` in use at once; idle ones are reused first-in
    first-out so the load spreads over all of them; new ones go to ``ports`` in turn. A slot
    is reserved synchronously (so the open-loop scheduler knows at once whether a request can
    go out) and filled by :meth:`connect`."""

    def __init__(self, host: str, ports: list[int], limit: int) -> None:
        self._host, self._ports, self._limit = host, ports, limit
        self._idle: collections.deque[Connection] = collections.deque()
        self._opened = 0
        self.in_use = 0

    def reserve(self) -> bool:
        if self.in_use >= self._limit:
            return False
        self.in_use += 1
        return True

    async def connect(self) -> Connection:
        """An idle connection or a new one, for a reserved slot."""
        while self._idle:
            connection = self._idle.popleft()
            if not connection.closed.done():
                return connection
        port = self._ports[self._opened % len(self._ports)]
        self._opened += 1
        _, protocol = await asyncio.get_running_loop().create_connection(
            Connection, self._host, port
        )
        return protocol

    def release(self, connection: Connection | None, healthy: bool) -> None:
        self.in_use -= 1
        if connection is None:
            return
        if healthy:
            self._idle.append(connection)
        elif connection.transport is not None:
            connection.transport.close()


async def _one(pool: Pool, payload: bytes, stats: Stats, record: bool) -> None:
    """One request on a reserved slot."""
    connection: Connection | None = None
    healthy = False
    try:
        connection = await pool.connect()
        started = time.perf_counter()
        status = await connection.request(payload)
        elapsed = time.perf_counter() - started
        healthy = True
    except (OSError, ConnectionError):
        stats.errors += record
        return
    finally:
        pool.release(connection, healthy)
    if record:
        stats.latencies.append(elapsed)
        stats.statuses[status] += 1


async def run_rate(args: argparse.Namespace) -> dict[str, object]:
    pool = Pool(args.host, args.port, args.connections)
    payload = _request_bytes(args)
    stats = Stats()
    tasks: set[asyncio.Task[None]] = set()
    interval = 1.0 / args.rate
    start = time.perf_counter()
    measured_from = start + args.warmup
    end = measured_from + args.duration
    due_count = 0
    while True:
        now = time.perf_counter()
        if now >= end:
            break
        due = start + due_count * interval
        if due > now:
            # uvloop's timers tick in whole milliseconds: never ask for less, or it spins.
            await asyncio.sleep(max(due - now, 0.001))
            continue
        due_count += 1
        record = due >= measured_from
        if not pool.reserve():
            stats.skipped += record  # every connection busy: the server is saturated
            continue
        stats.sent += record
        task = asyncio.create_task(_one(pool, payload, stats, record))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks, timeout=args.drain)
    return _summary(stats, args.duration, {"target_rate": args.rate})


async def run_closed(args: argparse.Namespace) -> dict[str, object]:
    pool = Pool(args.host, args.port, args.connections)
    payload = _request_bytes(args)
    stats = Stats()
    loop = asyncio.get_running_loop()
    measured_from = loop.time() + args.warmup
    end = measured_from + args.duration

    async def worker() -> None:
        while (now := loop.time()) < end:
            pool.reserve()
            record = now >= measured_from
            stats.sent += record
            await _one(pool, payload, stats, record)

    await asyncio.gather(*(worker() for _ in range(args.connections)))
    return _summary(stats, args.duration, {"connections": args.connections})


def _summary(stats: Stats, seconds: float, extra: dict[str, object]) -> dict[str, object]:
    ok = sum(count for status, count in stats.statuses.items() if 200 <= status < 300)
    requests = len(stats.latencies)
    return {
        **extra,
        "seconds": seconds,
        "requests": requests,
        "ok": ok,
        "non_2xx": requests - ok,
        "errors": stats.errors,
        "unfinished": stats.sent - requests - stats.errors,
        "skipped": stats.skipped,
        "rate": requests / seconds,
        "latency_ms": percentiles_ms(stats.latencies),
        "latencies_ms": [round(value * 1000, 4) for value in stats.latencies],
    }


def percentiles_ms(latencies: list[float]) -> dict[str, float]:
    """p50...p99.9 and max, in milliseconds, of latencies in seconds."""
    ordered = sorted(latencies)
    found = {f"p{p:g}": _percentile(ordered, p) * 1000 for p in _PERCENTILES}
    return found | {"max": (ordered[-1] * 1000) if ordered else 0.0}


def _percentile(ordered: list[float], percent: float) -> float:
    """Nearest-rank percentile of an ascending list (0 for an empty one)."""
    if not ordered:
        return 0.0
    rank = max(1, round(percent / 100 * len(ordered) + 0.5))
    return ordered[min(rank, len(ordered)) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["rate", "closed"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port", type=int, action="append", required=True, help="repeat to spread the load"
    )
    parser.add_argument("--path", required=True)
    parser.add_argument("--method", default="POST")
    parser.add_argument("--body", default="")
    parser.add_argument("--header", action="append", default=[], help="'Name: value'")
    parser.add_argument("--rate", type=float, default=500.0, help="requests/s (rate mode)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds first")
    parser.add_argument("--drain", type=float, default=10.0, help="wait for stragglers (s)")
    args = parser.parse_args()
    run = run_rate if args.mode == "rate" else run_closed
    result = aio.run(run(args))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
