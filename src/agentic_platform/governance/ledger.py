"""The usage ledger: one row per gateway request, written in batches off the request path.

``record`` appends to a buffer, and to the usage journal (``journal.py``) when there is one:
one small file write, before the answer is sent, so a crash loses no record. A background
task writes the buffer every ``flush_seconds`` (sooner when a batch fills). A failed write
keeps the rows and tries again, so a database restart loses nothing that was buffered;
``aclose`` writes what is left before the process exits. Writes are idempotent: a record
whose request id is in the table already is skipped, which is what makes replaying a
journal safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, fields
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Table, insert, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentic_platform.auth.models import ApiKeyRow
from agentic_platform.governance.models import UsageRow

if TYPE_CHECKING:
    from agentic_platform.governance.journal import UsageJournal

logger = logging.getLogger("agentic_platform.governance.ledger")


@dataclass(frozen=True, slots=True)
class UsageEntry:
    request_id: str
    time: datetime
    principal_id: str
    key_id: str | None
    team_id: str
    acting_via: str | None
    endpoint: str
    model: str
    deployment: str | None
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_usd: float
    latency_ms: float
    status: int
    error_type: str | None
    streamed: bool


_FIELDS = tuple(field.name for field in fields(UsageEntry))
_TABLE: Table = UsageRow.__table__  # type: ignore[assignment]  # Core insert: no ORM work


def _row(entry: UsageEntry) -> dict[str, object]:
    """A shallow row (``asdict`` deep-copies, which stalls the loop on large batches)."""
    return {name: getattr(entry, name) for name in _FIELDS}


class UsageLedger:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        flush_seconds: float = 0.5,
        batch_size: int = 500,
        journal: UsageJournal | None = None,
        journal_sync_seconds: float = 0,
    ) -> None:
        self._sessions = sessions
        self._journal = journal
        self._journal_sync_seconds = journal_sync_seconds
        self._sync_task: asyncio.Task[None] | None = None
        self._flush_seconds = flush_seconds
        self._batch_size = batch_size
        self._buffer: list[UsageEntry] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._stopping = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="usage-ledger")
        if self._journal is not None and self._journal_sync_seconds > 0:
            self._sync_task = asyncio.create_task(
                self._journal.sync_every(self._journal_sync_seconds), name="usage-journal-sync"
            )

    def record(self, entry: UsageEntry) -> None:
        """Keep ``entry`` for the next write; with a journal, it survives a crash as soon as
        this returns."""
        if self._journal is not None:
            self._journal.append(entry)
        self._buffer.append(entry)
        if len(self._buffer) >= self._batch_size:
            self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._buffer)

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._flush_seconds)
            self._wake.clear()
            if self._stopping:
                return
            try:
                await self.flush()
            except Exception as error:  # kept in the buffer; written on a later tick
                logger.warning(
                    "usage ledger write failed; will retry",
                    extra={"pending": len(self._buffer)},
                    exc_info=error,
                )

    async def flush(self) -> None:
        """Write everything buffered so far; raises (keeping the rows) if the write fails."""
        async with self._lock:
            if self._journal is not None:
                self._journal.seal()  # records from now on go to a new segment
            while self._buffer:
                batch = self._buffer[: self._batch_size]
                await self.write(batch)
                del self._buffer[: len(batch)]
            if self._journal is not None:
                self._journal.release()  # every sealed record is in the database now

    async def write(self, batch: list[UsageEntry]) -> None:
        """Write one batch now, skipping records whose request id is written already."""
        last_used: dict[str, datetime] = {}
        for entry in batch:
            if entry.key_id is not None:
                last_used[entry.key_id] = max(entry.time, last_used.get(entry.key_id, entry.time))
        async with self._sessions() as session, session.begin():
            existing = await session.execute(
                UsageRow.__table__.select()
                .with_only_columns(UsageRow.request_id)
                .where(UsageRow.request_id.in_([e.request_id for e in batch]))
            )
            written = {row[0] for row in existing}
            rows = []
            for entry in batch:
                if entry.request_id not in written:
                    written.add(entry.request_id)  # and never twice from one batch
                    rows.append(_row(entry))
            if rows:
                await session.execute(insert(_TABLE), rows)
            for key_id, moment in last_used.items():
                # Not a change of the key: updated_at stays, so caches are not invalidated.
                await session.execute(
                    update(ApiKeyRow).where(ApiKeyRow.id == key_id).values(last_used_at=moment)
                )

    async def aclose(self, attempts: int = 20, pause: float = 0.25) -> None:
        """Stop the writer and write what is left, retrying for a few seconds. What cannot
        be written stays in the journal, if there is one, for the next start."""
        if self._sync_task is not None:
            self._sync_task.cancel()
            await asyncio.gather(self._sync_task, return_exceptions=True)
        written = await self._final_flush(attempts, pause)
        if self._journal is not None:
            self._journal.close(written=written)

    async def _final_flush(self, attempts: int, pause: float) -> bool:
        if self._task is not None:
            # Stopped, not cancelled: a write cancelled inside the database driver can leave
            # its connection unusable, and the final flush below would wait on it for ever.
            self._stopping = True
            self._wake.set()
            await asyncio.gather(self._task, return_exceptions=True)
        for attempt in range(attempts):
            try:
                await self.flush()
                return True
            except Exception as error:
                if attempt == attempts - 1:
                    logger.error(
                        "usage records could not be written at shutdown",
                        extra={
                            "pending": len(self._buffer),
                            "kept_in_journal": self._journal is not None,
                        },
                        exc_info=error,
                    )
                    return False
                await asyncio.sleep(pause)
        return False
