"""Where the memory gateway's writes queue, so appends stay fast under load.

SQLite has one writer at a time; a writer that finds it busy sleeps in SQLite's busy handler
(1, 2, 5, 10 ... ms), which would dominate an append's latency while the background worker
writes. So on SQLite every write of this process (appends, the worker's progress marks and
index records) takes one in-process lock instead, and waits only as long as the write ahead
of it. On PostgreSQL writes run concurrently; only appends to one session queue, since they
would otherwise race for the session's next position.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class KeyedLocks:
    """One asyncio lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class Writers:
    def __init__(self, *, one_writer: bool) -> None:
        self.one_writer = one_writer
        self._locks = KeyedLocks()

    def append(self, session_id: str) -> contextlib.AbstractAsyncContextManager[None]:
        """Held around an append to ``session_id``."""
        return self._locks.hold("" if self.one_writer else session_id)

    def write(self) -> contextlib.AbstractAsyncContextManager[None]:
        """Held around any other write to the platform database."""
        return self._locks.hold("") if self.one_writer else contextlib.nullcontext()
