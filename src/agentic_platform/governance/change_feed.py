"""Keeps every replica's in-memory identity and plan caches current.

A poller asks the database, a few times a second, which keys, principals, teams and plans
changed since it last looked (their ``updated_at``), and invalidates exactly those. That is
how a revoked key stops working within a second on every replica while a known key costs
no database round trip on the request path.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentic_platform.auth.models import ApiKeyRow, PrincipalRow, TeamRow
from agentic_platform.db.base import utcnow
from agentic_platform.governance.models import PlanRow

logger = logging.getLogger("agentic_platform.governance")

# Rows committed slightly out of order (clock skew between replicas, long transactions)
# are still seen: each poll looks back this far and invalidating twice is harmless.
LOOK_BACK = timedelta(seconds=5)

OnChange = Callable[[set[str], set[str]], Awaitable[None]]
"""Called with the changed key ids and principal ids (plans and teams reload wholesale)."""


class ChangeFeed:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        on_change: OnChange,
        interval_seconds: float = 0.5,
    ) -> None:
        self._sessions = sessions
        self._on_change = on_change
        self._interval = interval_seconds
        self._since: datetime = utcnow()
        self._seen: set[tuple[str, str, datetime]] = set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="governance-change-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.poll()
            except Exception as error:  # the database may be restarting; try again next tick
                logger.warning("change feed poll failed", exc_info=error)

    async def poll(self) -> None:
        started = utcnow()
        since = self._since - LOOK_BACK
        async with self._sessions() as session:
            rows: list[tuple[str, str, datetime]] = []
            for kind, table in (
                ("key", ApiKeyRow),
                ("principal", PrincipalRow),
                ("team", TeamRow),
                ("plan", PlanRow),
            ):
                result = await session.execute(
                    select(table.id, table.updated_at).where(table.updated_at > since)
                )
                rows.extend((kind, row[0], row[1]) for row in result)
        fresh = {row for row in rows if row not in self._seen}
        self._seen = set(rows)
        self._since = started
        if fresh:
            keys = {ident for kind, ident, _ in fresh if kind == "key"}
            principals = {ident for kind, ident, _ in fresh if kind == "principal"}
            await self._on_change(keys, principals)
