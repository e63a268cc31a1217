"""Counters in Redis, shared by every replica: one Lua script per operation.

Redis runs a script without interleaving any other command, so "check every counter, then
add to every counter" is atomic across all replicas without locks or WATCH retries. Scripts
are sent with EVALSHA (redis-py's ``Script`` reloads them on NOSCRIPT, e.g. after a Redis
restart emptied the script cache).

Fail fast, never twice: sockets time out after ``socket_timeout`` (a quarter second by
default) and redis-py's own retries are off. A retried ``acquire`` after a timeout could
charge twice, and a slow limiter stalls every request; the resilient wrapper decides what
happens instead. Pooled connections broken by a Redis restart are detected and reopened by
the pool when they are checked out, so the store works again without being rebuilt.

A single Redis (or a primary with replicas) is supported, not Redis Cluster: one request's
counters are different keys that may hash to different slots.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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
    retry_after,
)

# Values travel as strings both ways: a Lua number in a reply is truncated to an integer.
_ACQUIRE = """
-- ARGV[1] = tolerance; then per key: amount, limit, ttl in ms (0 = no expiry).
-- Reply: {admitted, refused index (0-based, -1 if admitted), refused key's PTTL, values...}
local tolerance = tonumber(ARGV[1])
local n = #KEYS
local current = {}
for i = 1, n do
  current[i] = redis.call('GET', KEYS[i])
end
for i = 1, n do
  local at = 2 + 3 * (i - 1)
  local value = tonumber(current[i] or '0')
  if value + tonumber(ARGV[at]) > tonumber(ARGV[at + 1]) + tolerance then
    local reply = {0, i - 1, redis.call('PTTL', KEYS[i])}
    for j = 1, n do
      reply[3 + j] = current[j] or '0'
    end
    return reply
  end
end
local reply = {1, -1, -2}
for i = 1, n do
  local at = 2 + 3 * (i - 1)
  reply[3 + i] = redis.call('INCRBYFLOAT', KEYS[i], ARGV[at])
  local ttl_ms = tonumber(ARGV[at + 2])
  if not current[i] and ttl_ms > 0 then
    redis.call('PEXPIRE', KEYS[i], ttl_ms)
  end
end
return reply
"""

_ADJUST = """
-- Per key: amount, ttl in ms (0 = no expiry). Clamps at 0; a TTL is never moved.
for i = 1, #KEYS do
  local at = 1 + 2 * (i - 1)
  local existing = redis.call('GET', KEYS[i])
  if tonumber(existing or '0') + tonumber(ARGV[at]) > 0 then
    redis.call('INCRBYFLOAT', KEYS[i], ARGV[at])
    local ttl_ms = tonumber(ARGV[at + 1])
    if not existing and ttl_ms > 0 then
      redis.call('PEXPIRE', KEYS[i], ttl_ms)
    end
  elseif existing then
    if redis.call('PTTL', KEYS[i]) > 0 then
      redis.call('SET', KEYS[i], '0', 'KEEPTTL')
    else
      redis.call('DEL', KEYS[i])
    end
  end
end
return 0
"""


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
        self._acquire = client.register_script(_ACQUIRE)
        self._adjust = client.register_script(_ADJUST)

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
        args: list[str | int] = [repr(TOLERANCE)]
        for charge in charges:
            args += [repr(float(charge.amount)), repr(float(charge.limit))]
            args.append(_ttl_ms(charge.ttl_seconds))
        reply = await self._call(self._acquire, self._keys(c.counter for c in charges), args)
        admitted, index, pttl, *raw_values = reply
        values = tuple(float(value) for value in raw_values)
        if admitted:
            return Admission(True, values, None, None)
        remaining = int(pttl) / 1000 if int(pttl) >= 0 else None
        return Admission(False, values, int(index), retry_after(charges[int(index)], remaining))

    async def adjust(self, charges: Sequence[Charge]) -> None:
        check_charges(charges, acquiring=False)
        if not charges:
            return
        args: list[str | int] = []
        for charge in charges:
            args += [repr(float(charge.amount)), _ttl_ms(charge.ttl_seconds)]
        await self._call(self._adjust, self._keys(c.counter for c in charges), args)

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
        await self._client.aclose()

    def _keys(self, counters: Iterable[str]) -> list[str]:
        return [self._prefix + counter for counter in counters]

    async def _call(self, script: AsyncScript, keys: list[str], args: list[str | int]) -> list[Any]:
        """Run a script; any Redis failure (down, timed out, out of memory, read-only replica
        after a failover, still loading) means the counters cannot be trusted right now."""
        try:
            reply: list[Any] = await script(keys=keys, args=args)
        except RedisError as error:
            raise CounterStoreUnavailable(f"Redis did not answer: {error}") from error
        return reply
