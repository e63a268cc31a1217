"""Counters in Redis, shared by every replica: Lua scripts, batched per round trip.

Redis runs a script without interleaving any other command, so "check every counter, then
add to every counter" is atomic across all replicas without locks or WATCH retries. Scripts
are sent with EVALSHA (redis-py's ``Script`` reloads them on NOSCRIPT, e.g. after a Redis
restart emptied the script cache).

Group commit: the operations (``acquire`` and ``adjust``) that callers start while a call is
on the wire travel together in the next one, as one script that applies them in order, each
one all-or-nothing exactly as if it had been sent alone. Under load one round trip and one
reply parse serve dozens of requests, which is most of what a limit check costs; when idle an
operation goes out at once. An ``acquire`` whose caller is cancelled after it was sent gives
its units back as soon as the answer arrives, so a dropped request never holds capacity.

Fail fast, never twice: sockets time out after ``socket_timeout`` (a quarter second by
default) and redis-py's own retries are off. A retried ``acquire`` after a timeout could
charge twice, and a slow limiter stalls every request; the resilient wrapper decides what
happens instead. Pooled connections broken by a Redis restart are detected and reopened by
the pool when they are checked out, so the store works again without being rebuilt.

A single Redis (or a primary with replicas) is supported, not Redis Cluster: one request's
counters are different keys that may hash to different slots.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from agentic_platform.limits.base import (
    TOLERANCE,
    Admission,
    Charge,
    CounterStoreUnavailable,
    check_charges,
    completed,
    retry_after,
)

# Values travel as strings both ways: a Lua number in a reply is truncated to an integer.
_BATCH = """
-- ARGV[1] = tolerance; then one entry per operation: kind ('a' acquire, 'j' adjust), key
-- count, then per key: acquire: amount, limit, ttl in ms; adjust: amount, ttl in ms.
-- Each operation's keys follow the previous one's in KEYS. Reply: one entry per operation,
-- acquire: {admitted, refused index (0-based, -1 if admitted), refused key's PTTL, values...};
-- adjust: 0.
local tolerance = tonumber(ARGV[1])

local function acquire(k0, n, a0)
  local current = {}
  for i = 1, n do
    current[i] = redis.call('GET', KEYS[k0 + i])
  end
  for i = 1, n do
    local at = a0 + 3 * (i - 1)
    local value = tonumber(current[i] or '0')
    if value + tonumber(ARGV[at]) > tonumber(ARGV[at + 1]) + tolerance then
      local reply = {0, i - 1, redis.call('PTTL', KEYS[k0 + i])}
      for j = 1, n do
        reply[3 + j] = current[j] or '0'
      end
      return reply
    end
  end
  local reply = {1, -1, -2}
  for i = 1, n do
    local at = a0 + 3 * (i - 1)
    reply[3 + i] = redis.call('INCRBYFLOAT', KEYS[k0 + i], ARGV[at])
    local ttl_ms = tonumber(ARGV[at + 2])
    if not current[i] and ttl_ms > 0 then
      redis.call('PEXPIRE', KEYS[k0 + i], ttl_ms)
    end
  end
  return reply
end

local function adjust(k0, n, a0)
  for i = 1, n do
    local key = KEYS[k0 + i]
    local at = a0 + 2 * (i - 1)
    local existing = redis.call('GET', key)
    if tonumber(existing or '0') + tonumber(ARGV[at]) > 0 then
      redis.call('INCRBYFLOAT', key, ARGV[at])
      local ttl_ms = tonumber(ARGV[at + 1])
      if not existing and ttl_ms > 0 then
        redis.call('PEXPIRE', key, ttl_ms)
      end
    elseif existing then
      if redis.call('PTTL', key) > 0 then
        redis.call('SET', key, '0', 'KEEPTTL')
      else
        redis.call('DEL', key)
      end
    end
  end
  return 0
end

local replies = {}
local at, k = 2, 0
while at <= #ARGV do
  local kind, n = ARGV[at], tonumber(ARGV[at + 1])
  if kind == 'a' then
    replies[#replies + 1] = acquire(k, n, at + 2)
    at = at + 2 + 3 * n
  else
    replies[#replies + 1] = adjust(k, n, at + 2)
    at = at + 2 + 2 * n
  end
  k = k + n
end
return replies
"""

MAX_BATCH = 256
"""Operations per script call: bounds how long one call holds Redis (a few milliseconds)."""


@dataclass(slots=True)
class _Operation:
    kind: str  # "a" (acquire) or "j" (adjust)
    keys: list[str]
    args: list[str | int]
    answer: asyncio.Future[Any]


def _ttl_ms(ttl_seconds: float) -> int:
    """Milliseconds for PEXPIRE; a positive TTL never rounds down to "no expiry"."""
    return max(1, round(ttl_seconds * 1000)) if ttl_seconds > 0 else 0


class RedisCounterStore:
    """Counters in one Redis database, named ``key_prefix + counter``."""

    def __init__(self, client: Redis, *, key_prefix: str = "agentic:limits:") -> None:
        """Takes ownership of ``client``: :meth:`aclose` closes it. Build the client with
        :meth:`from_url` unless you know why its defaults do not suit."""
        self._client = client
        self._prefix = key_prefix
        self._script = client.register_script(_BATCH)
        self._queue: list[_Operation] = []
        self._sender: asyncio.Task[None] | None = None

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        socket_timeout: float = 0.25,
        max_connections: int = 64,
        pool_timeout: float = 1.0,
        key_prefix: str = "agentic:limits:",
    ) -> RedisCounterStore:
        """A store on its own bounded connection pool. No I/O happens until the first call.

        A script takes microseconds, so a few connections serve thousands of requests a
        second; a burst queues for at most ``pool_timeout`` seconds instead of opening a
        connection per request, which would make Redis (and this process) spend the burst on
        TCP and handshakes and push connects past ``socket_timeout``.
        """
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=pool_timeout,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
            retry=Retry(NoBackoff(), 0),
            # RESP2 works on every Redis-compatible server and keeps redis-py's check for
            # pooled connections the server has closed (skipped under RESP3 maintenance
            # notifications), which is what makes the first call after a restart succeed.
            protocol=2,
        )
        return cls(Redis.from_pool(pool), key_prefix=key_prefix)

    async def acquire(self, charges: Sequence[Charge]) -> Admission:
        check_charges(charges, acquiring=True)
        if not charges:
            return Admission(True, (), None, None)
        args: list[str | int] = []
        for charge in charges:
            args += [repr(float(charge.amount)), repr(float(charge.limit))]
            args.append(_ttl_ms(charge.ttl_seconds))
        answer = self._submit("a", charges, args)
        try:
            reply = await asyncio.shield(answer)
        except asyncio.CancelledError:
            answer.add_done_callback(lambda done: self._give_back(done, charges))
            raise
        admitted, index, pttl, *raw_values = reply
        values = tuple(float(value) for value in raw_values)
        if admitted:
            return Admission(True, values, None, None)
        remaining = int(pttl) / 1000 if int(pttl) >= 0 else None
        return Admission(False, values, int(index), retry_after(charges[int(index)], remaining))

    def adjust(self, charges: Sequence[Charge]) -> Awaitable[None]:
        check_charges(charges, acquiring=False)
        if not charges:
            return completed()
        return asyncio.shield(self._submit("j", charges, _adjust_args(charges)))

    async def values(self, counters: Sequence[str]) -> tuple[float, ...]:
        if not counters:
            return ()
        try:
            raw = await self._client.mget(self._keys(counters))
        except RedisError as error:
            raise CounterStoreUnavailable(f"Redis did not answer: {error}") from error
        return tuple(float(value) if value is not None else 0.0 for value in raw)

    async def ping(self) -> None:
        try:
            await self._client.ping()
        except RedisError as error:
            raise CounterStoreUnavailable(f"Redis did not answer: {error}") from error

    async def aclose(self) -> None:
        if self._sender is not None:  # let the operations already started finish
            await asyncio.wait([self._sender])
        await self._client.aclose()

    def _keys(self, counters: Iterable[str]) -> list[str]:
        return [self._prefix + counter for counter in counters]

    def _submit(
        self, kind: str, charges: Sequence[Charge], args: list[str | int]
    ) -> asyncio.Future[Any]:
        """Queue one operation for the next script call; start the sender if it is idle."""
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        keys = self._keys(charge.counter for charge in charges)
        answer.add_done_callback(_retrieved)  # a caller that went away leaves no warning
        self._queue.append(_Operation(kind, keys, args, answer))
        if self._sender is None:
            self._sender = asyncio.create_task(self._send())
        return answer

    async def _send(self) -> None:
        """One call at a time, each taking everything queued meanwhile (group commit)."""
        try:
            while self._queue:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                keys: list[str] = []
                args: list[str | int] = [repr(TOLERANCE)]
                for operation in batch:
                    keys += operation.keys
                    args += [operation.kind, len(operation.keys), *operation.args]
                try:
                    replies = await self._call(self._script, keys, args)
                except CounterStoreUnavailable as error:
                    for operation in batch:
                        if not operation.answer.done():
                            operation.answer.set_exception(error)
                    continue
                for operation, reply in zip(batch, replies, strict=True):
                    if not operation.answer.done():
                        operation.answer.set_result(reply)
        finally:
            self._sender = None

    def _give_back(self, answer: asyncio.Future[Any], charges: Sequence[Charge]) -> None:
        """An acquire whose caller went away: undo it if it was admitted."""
        if answer.cancelled() or answer.exception() is not None or not answer.result()[0]:
            return
        refund = [Charge(c.counter, -c.amount, c.limit, c.ttl_seconds) for c in charges if c.amount]
        if refund:
            self._submit("j", refund, _adjust_args(refund))

    async def _call(self, script: AsyncScript, keys: list[str], args: list[str | int]) -> list[Any]:
        """Run a script; any Redis failure (down, timed out, out of memory, read-only replica
        after a failover, still loading) means the counters cannot be trusted right now."""
        try:
            reply: list[Any] = await script(keys=keys, args=args)
        except RedisError as error:
            raise CounterStoreUnavailable(f"Redis did not answer: {error}") from error
        return reply


def _adjust_args(charges: Sequence[Charge]) -> list[str | int]:
    args: list[str | int] = []
    for charge in charges:
        args += [repr(float(charge.amount)), _ttl_ms(charge.ttl_seconds)]
    return args


def _retrieved(answer: asyncio.Future[Any]) -> None:
    if not answer.cancelled():
        answer.exception()
