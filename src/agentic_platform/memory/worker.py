"""The memory gateway's background worker: indexing, extraction and housekeeping.

Three asyncio tasks, so a slow extraction never delays indexing:

* the **indexer** makes new turns searchable in rounds: an append in this process wakes it,
  it lets ``index_delay_seconds`` pass for more turns to join, then indexes the new turns of
  every waiting session at once, with one embedding call per owner. A busy minute therefore
  costs a few large batches and a quiet one a turn at a time, and a turn waits for at most
  the round in progress and its own (1 to 3 s under 16 writers flat out on 2 cores); search
  finds it by its words meanwhile (:mod:`.unindexed`);
* the **extractor** runs the extraction model over indexed sessions, one session at a time;
  a failed batch comes back after a backoff;
* the **sweeper** catches what this process was not told about (turns appended on other
  replicas, work a crash interrupted, memories whose indexing failed) and expires old
  sessions.

Every step is idempotent (see :mod:`.pipeline`), so running it again, or on two replicas,
is always safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from agentic_platform.db.base import utcnow
from agentic_platform.memory.index import MemoryIndex
from agentic_platform.memory.pipeline import SessionPipeline, backoff
from agentic_platform.memory.sessions import SessionStore
from agentic_platform.memory.store import MemoryStore, mark_indexed
from agentic_platform.settings import MemorySettings

logger = logging.getLogger("agentic_platform.memory")

SETTLE = timedelta(seconds=10)
"""Turns younger than this belong to the replica that took them; the sweep leaves them."""
RETENTION_EVERY = timedelta(hours=1)
ROUND_SESSIONS = 256
"""Sessions indexed in one round at the most (the rest wait for the next)."""


class SessionQueue:
    """Session ids waiting for one stage; a session waits at most once, and a session being
    processed that is signalled again is processed again afterwards."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._waiting: set[str] = set()
        self._busy = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def put(self, session_id: str) -> None:
        if session_id not in self._waiting:
            self._waiting.add(session_id)
            self._idle.clear()
            self._queue.put_nowait(session_id)

    async def get(self) -> str:
        session_id = await self._queue.get()
        self._waiting.discard(session_id)
        self._busy += 1
        return session_id

    def take_waiting(self, limit: int) -> list[str]:
        """Up to ``limit`` more sessions that are waiting now, without waiting for any."""
        taken: list[str] = []
        while len(taken) < limit and not self._queue.empty():
            session_id = self._queue.get_nowait()
            self._waiting.discard(session_id)
            taken.append(session_id)
        self._busy += len(taken)
        return taken

    def done(self, count: int = 1) -> None:
        self._busy -= count
        if self._busy == 0 and not self._waiting:
            self._idle.set()

    @property
    def depth(self) -> int:
        """Sessions waiting (not counting those being processed)."""
        return len(self._waiting)

    @property
    def idle_now(self) -> bool:
        return self._idle.is_set()

    async def idle(self) -> None:
        await self._idle.wait()


class MemoryWorker:
    def __init__(
        self,
        pipeline: SessionPipeline,
        sessions: SessionStore,
        memories: MemoryStore,
        index: MemoryIndex,
        settings: MemorySettings,
    ) -> None:
        self.pipeline = pipeline
        self._sessions = sessions
        self._memories = memories
        self._index = index
        self._settings = settings
        self.indexing = SessionQueue()
        self.extracting = SessionQueue()
        self._tasks: list[asyncio.Task[None]] = []
        self._retry_handles: dict[str, asyncio.TimerHandle] = {}
        self._next_retention = utcnow()

    @property
    def extraction_model(self) -> str | None:
        return self._settings.extraction_model

    def notify(self, session_id: str) -> None:
        """A turn was appended: the indexer's next round takes it."""
        self.indexing.put(session_id)

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._index_rounds(), name="memory-indexer"),
            asyncio.create_task(self._sweep_forever(), name="memory-sweeper"),
        ]
        if self.extraction_model is not None:
            self._tasks.append(
                asyncio.create_task(
                    self._run(self.extracting, self._extract_session), name="memory-extractor"
                )
            )

    async def aclose(self) -> None:
        for handle in self._retry_handles.values():
            handle.cancel()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def drain(self) -> None:
        """Index (and extract, when on) every signalled session now, and wait until done."""
        while True:
            await self.indexing.idle()
            await self.extracting.idle()
            if self.indexing.idle_now and self.extracting.idle_now:
                return

    # --- stages --------------------------------------------------------------------------

    async def _run(self, queue: SessionQueue, step: Callable[[str], Awaitable[None]]) -> None:
        while True:
            session_id = await queue.get()
            try:
                await step(session_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("memory worker step failed", extra={"session_id": session_id})
                self._retry_later(queue, session_id, 5.0)
            finally:
                queue.done()

    async def _index_rounds(self) -> None:
        while True:
            first = await self.indexing.get()
            if self._settings.index_delay_seconds > 0:
                await asyncio.sleep(self._settings.index_delay_seconds)
            round_ = [first, *self.indexing.take_waiting(ROUND_SESSIONS - 1)]
            try:
                indexed = await self.pipeline.index_sessions(round_)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("memory indexing round failed", extra={"sessions": len(round_)})
                for session_id in round_:
                    self._retry_later(self.indexing, session_id, 5.0)
                continue
            finally:
                self.indexing.done(len(round_))
            for session_id in indexed.more:
                self.indexing.put(session_id)
            for session_id in indexed.failed:
                self._retry_later(self.indexing, session_id, 5.0)
            if self.extraction_model is not None:
                for session_id in round_:
                    self.extracting.put(session_id)

    async def _extract_session(self, session_id: str) -> None:
        state = await self.pipeline.state(session_id)
        model = self.extraction_model
        if state is None or model is None:
            return
        session, progress = state
        outcome = await self.pipeline.extract(session, progress, model)
        if outcome.more:
            self.extracting.put(session_id)
        elif outcome.retry:
            delay = backoff(progress.attempts + 1).total_seconds()
            self._retry_later(self.extracting, session_id, delay)

    def _retry_later(self, queue: SessionQueue, session_id: str, delay: float) -> None:
        loop = asyncio.get_running_loop()
        previous = self._retry_handles.pop(session_id, None)
        if previous is not None:
            previous.cancel()
        self._retry_handles[session_id] = loop.call_later(delay, queue.put, session_id)

    # --- housekeeping --------------------------------------------------------------------

    async def _sweep_forever(self) -> None:
        since: datetime | None = None  # the first sweep catches up on everything
        while True:
            until = utcnow() - SETTLE
            try:
                await self.sweep(since, until)
                since = until - self._settings.worker_poll_seconds * timedelta(seconds=2)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("memory sweep failed")
            await asyncio.sleep(self._settings.worker_poll_seconds)

    async def sweep(self, since: datetime | None, until: datetime) -> None:
        lagging = await self._sessions.lagging(
            since=since, until=until, extraction=self.extraction_model is not None
        )
        for session_id in lagging:
            self.indexing.put(session_id)
        await self.index_pending_memories()
        if self._settings.retention_days is not None and utcnow() >= self._next_retention:
            await self.expire_sessions(timedelta(days=self._settings.retention_days))
            self._next_retention = utcnow() + RETENTION_EVERY

    async def index_pending_memories(self, limit: int = 500) -> None:
        """Index memories whose indexing failed or was interrupted."""
        rows = await self._memories.unindexed(limit)
        by_owner = defaultdict(list)
        for row in rows:
            by_owner[row.owner_id].append(row)
        for owner_id, owned in by_owner.items():
            await self._index.add_memories(owner_id, owned)
            await mark_indexed(self._memories.sessionmaker, owned)

    async def expire_sessions(self, retention: timedelta) -> int:
        """Delete sessions idle for longer than the retention, with their indexed turns."""
        expired = await self._sessions.expired(retention)
        for session in expired:
            await self._index.remove_session_turns(session.owner_id, session.id)
        await self._sessions.remove([session.id for session in expired])
        if expired:
            logger.info("expired memory sessions", extra={"count": len(expired)})
        return len(expired)
