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
_BATCH = r"""
-- ARGV[1] = tolerance; then one argument per operation, its fields joined by the unit
-- separator (byte 31): kind ('a' acquire, 'j' adjust), then per counter: acquire: key,
-- amount, limit, ttl in ms (negative: a lease, its TTL restarts); adjust: key, amount, ttl
-- in ms (0 = no expiry).
-- Reply: one string per operation, joined the same way: acquire: admitted (1/0), refused
-- index (0-based, -1 if admitted), refused key's PTTL, then every counter's value; adjust: ''.
local tolerance = tonumber(ARGV[1])

local function fields(packed)
  local out = {}
  for part in string.gmatch(packed, '[^\31]+') do
    out[#out + 1] = part
  end
  return out
end

local function acquire(f)
  local n = (#f - 1) / 4
  local current = {}
  for i = 1, n do
    current[i] = redis.call('GET', f[4 * i - 2])
  end
  for i = 1, n do
    local at = 4 * i - 2
    if tonumber(current[i] or '0') + tonumber(f[at + 1]) > tonumber(f[at + 2]) + tolerance then
      local reply = {'0', tostring(i - 1), tostring(redis.call('PTTL', f[at]))}
      for j = 1, n do
        reply[3 + j] = current[j] or '0'
      end
      return table.concat(reply, '\31')
    end
  end
  local reply = {'1', '-1', '-2'}
  for i = 1, n do
    local at = 4 * i - 2
    reply[3 + i] = redis.call('INCRBYFLOAT', f[at], f[at + 1])
    local ttl_ms = tonumber(f[at + 3])
    if ttl_ms < 0 then
      redis.call('PEXPIRE', f[at], -ttl_ms)
    elseif not current[i] and ttl_ms > 0 then
      redis.call('PEXPIRE', f[at], ttl_ms)
    end
  end
  return table.concat(reply, '\31')
end

local function adjust(f)
  for at = 2, #f, 3 do
    local key = f[at]
    local existing = redis.call('GET', key)
    if tonumber(existing or '0') + tonumber(f[at + 1]) > 0 then
      redis.call('INCRBYFLOAT', key, f[at + 1])
      local ttl_ms = tonumber(f[at + 2])
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
  return ''
end

local replies = {}
for a = 2, #ARGV do
  local f = fields(ARGV[a])
  if f[1] == 'a' then
    replies[#replies + 1] = acquire(f)
  else
    replies[#replies + 1] = adjust(f)
  end
end
return replies
"""

SEPARATOR = "\x1f"
"""Joins an operation's fields into one script argument (and a reply's): packing a command
of a few arguments instead of a few dozen is most of what the client spends per request."""

MAX_BATCH = 256
"""Operations per script call: bounds how long one call holds Redis (a few milliseconds)."""


@dataclass(slots=True)
class _Operation:
    packed: str
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
        fields = ["a"]
        for charge in charges:
            fields += [
                self._key(charge.counter),
                repr(float(charge.amount)),
                repr(float(charge.limit)),
                str(-_ttl_ms(charge.ttl_seconds) if charge.lease else _ttl_ms(charge.ttl_seconds)),
            ]
        answer = self._submit(SEPARATOR.join(fields))
        try:
            reply = await asyncio.shield(answer)
        except asyncio.CancelledError:
            answer.add_done_callback(lambda done: self._give_back(done, charges))
            raise
        admitted, index, pttl, *raw_values = reply.split(SEPARATOR.encode())
        values = tuple(float(value) for value in raw_values)
        if admitted == b"1":
            return Admission(True, values, None, None)
        remaining = int(pttl) / 1000 if int(pttl) >= 0 else None
        return Admission(False, values, int(index), retry_after(charges[int(index)], remaining))

    def adjust(self, charges: Sequence[Charge]) -> Awaitable[None]:
        check_charges(charges, acquiring=False)
        if not charges:
            return completed()
        return asyncio.shield(self._submit(self._adjustment(charges)))

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

    def _key(self, counter: str) -> str:
        if SEPARATOR in counter:
            raise ValueError(f"Counter {counter!r}: names cannot hold the byte 0x1f.")
        return self._prefix + counter

    def _adjustment(self, charges: Sequence[Charge]) -> str:
        fields = ["j"]
        for charge in charges:
            fields += [
                self._key(charge.counter),
                repr(float(charge.amount)),
                str(_ttl_ms(charge.ttl_seconds)),
            ]
        return SEPARATOR.join(fields)

    def _submit(self, packed: str) -> asyncio.Future[Any]:
        """Queue one operation for the next script call; start the sender if it is idle."""
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        answer.add_done_callback(_retrieved)  # a caller that went away leaves no warning
        self._queue.append(_Operation(packed, answer))
        if self._sender is None:
            self._sender = asyncio.create_task(self._send())
        return answer

    async def _send(self) -> None:
        """One call at a time, each taking everything queued meanwhile (group commit)."""
        try:
            while self._queue:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                args: list[str | int] = [repr(TOLERANCE), *(op.packed for op in batch)]
                try:
                    replies = await self._call(args)
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
        if answer.cancelled() or answer.exception() is not None:
            return
        if not answer.result().startswith(b"1"):
            return
        refund = [Charge(c.counter, -c.amount, c.limit, c.ttl_seconds) for c in charges if c.amount]
        if refund:
            self._submit(self._adjustment(refund))

    async def _call(self, args: list[str | int]) -> list[Any]:
        """Run the batch script; any Redis failure (down, timed out, out of memory, read-only
        replica after a failover, still loading) means the counters cannot be trusted now."""
        try:
            reply: list[Any] = await self._script(keys=[], args=args)
        except RedisError as error:
            raise CounterStoreUnavailable(f"Redis did not answer: {error}") from error
        return reply


def _retrieved(answer: asyncio.Future[Any]) -> None:
    if not answer.cancelled():
        answer.exception()
