"""What the background worker does to one session: index new turns, extract memories.

Each step reads the session's high-water mark, does its work, and moves the mark forward
with a compare-and-set in the same transaction as its writes. Running a step twice, or on
two replicas at once, therefore stores nothing twice: the loser's transaction rolls back.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentic_platform.clients.llm import GatewayClientError, LLMClient
from agentic_platform.db.base import utcnow
from agentic_platform.errors import PlatformError
from agentic_platform.memory.extraction import (
    MAX_OUTPUT_TOKENS,
    ExtractionError,
    Operation,
    Prompt,
)
from agentic_platform.memory.index import MemoryIndex, TurnWindow, windows
from agentic_platform.memory.models import (
    ExtractionRow,
    MemoryRow,
    MemorySourceRow,
    MessageRow,
    SessionRow,
)
from agentic_platform.memory.schemas import MESSAGE_TYPE
from agentic_platform.memory.sessions import SessionStore
from agentic_platform.memory.store import (
    Source,
    content_hash,
    find_duplicate,
    mark_indexed,
    new_memory,
    source_rows,
)
from agentic_platform.search.filters import Condition
from agentic_platform.settings import MemorySettings

logger = logging.getLogger("agentic_platform.memory")

ClientFor = Callable[[str], Awaitable[LLMClient | None]]
"""An LLM gateway client acting as the owner (None when the owner is gone or disabled)."""

RELATED_MEMORIES = 10
CLAIM = timedelta(minutes=10)
"""How long one extraction run may hold its batch before another worker may take it over."""
MAX_BACKOFF = timedelta(minutes=5)


def backoff(attempts: int) -> timedelta:
    """The wait before a failed batch is tried again: 2, 4, 8 ... seconds, at most 5 min."""
    return min(MAX_BACKOFF, timedelta(seconds=2.0**attempts))


@dataclass
class Indexed:
    """What one indexing round left: sessions with more turns waiting, and sessions whose
    owner's turns could not be indexed (to try again later)."""

    more: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


class _BatchTaken(Exception):
    """Another worker stored this batch first; this run's transaction rolls back."""


@dataclass
class Outcome:
    """What one extraction run did; ``retry`` asks the worker to come back later."""

    added: list[MemoryRow] = field(default_factory=list)
    updated: list[MemoryRow] = field(default_factory=list)
    deleted: list[MemoryRow] = field(default_factory=list)
    more: bool = False
    retry: bool = False
    claimed: bool = True
    """False when another worker holds the batch, or it waits out a failure's backoff."""


class SessionPipeline:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        store: SessionStore,
        index: MemoryIndex,
        client_for: ClientFor,
        settings: MemorySettings,
    ) -> None:
        self._db = sessions
        self._writers = store.writers
        self._store = store
        self._index = index
        self._client_for = client_for
        self._settings = settings

    async def state(self, session_id: str) -> tuple[SessionRow, ExtractionRow] | None:
        found = await self.states([session_id])
        return found[0] if found else None

    async def states(self, session_ids: Sequence[str]) -> list[tuple[SessionRow, ExtractionRow]]:
        """The sessions (and their progress) that still exist, of ``session_ids``."""
        async with self._db() as db:
            found = await db.execute(
                select(SessionRow, ExtractionRow)
                .join(ExtractionRow, ExtractionRow.session_id == SessionRow.id)
                .where(SessionRow.id.in_(session_ids))
            )
            return [(row[0], row[1]) for row in found]

    # --- raw turns -----------------------------------------------------------------------

    async def index_sessions(self, session_ids: Sequence[str]) -> Indexed:
        """Index the next batch of new turns of each session, with one embedding call and
        one index write per owner, then move every session's mark in one transaction.

        The ``context_turns`` turns before a batch are indexed again: their context now
        includes the turns that followed them. An owner whose embedding fails (disabled, over
        budget, the gateway down) leaves its sessions for a retry; the others go on."""
        width = self._settings.context_turns
        size = self._settings.index_batch_size
        planned: dict[str, list[tuple[SessionRow, list[TurnWindow], int]]] = defaultdict(list)
        indexed = Indexed()
        for session, progress in await self.states(session_ids):
            start = max(0, progress.indexed_through - width)
            turns = await self._store.turns(session.id, start, size)
            if not turns or turns[-1].position <= progress.indexed_through:
                continue
            earlier = await self._store.turns_before(session.id, turns[0].position, width)
            batch = windows(turns, earlier, width)
            planned[session.owner_id].append((session, batch, turns[-1].position))
            if len(turns) == size:
                indexed.more.append(session.id)
        done: list[tuple[SessionRow, list[TurnWindow], int]] = []
        for owner_id, owned in planned.items():
            try:
                await self._index.add_turns(owner_id, [(s, batch) for s, batch, _ in owned])
            except PlatformError as error:
                logger.warning("memory indexing failed", extra={"error": str(error)[:300]})
                indexed.failed.extend(session.id for session, _, _ in owned)
                continue
            done.extend(owned)
        if done:
            async with self._writers.write(), self._db() as db, db.begin():
                for session, _, last in done:
                    await db.execute(
                        update(ExtractionRow)
                        .where(
                            ExtractionRow.session_id == session.id,
                            ExtractionRow.indexed_through < last,
                        )
                        .values(indexed_through=last)
                    )
        indexed.more = [s for s in indexed.more if s not in set(indexed.failed)]
        return indexed

    # --- extraction ----------------------------------------------------------------------

    async def extract(self, session: SessionRow, progress: ExtractionRow, model: str) -> Outcome:
        """Run the model over the next batch of unextracted turns and apply its answer."""
        settings = self._settings
        turns = await self._store.turns(
            session.id, progress.extracted_through, settings.extraction_batch_turns
        )
        if not turns:
            return Outcome()
        context = await self._store.turns_before(
            session.id, turns[0].position, settings.extraction_context_turns
        )
        if not await self._claim(session.id, progress.extracted_through, model):
            return Outcome(claimed=False)
        try:
            prompt = Prompt(context, turns, await self._related(session, turns))
            operations = await self._ask(session.owner_id, model, prompt)
        except (ExtractionError, PlatformError) as error:
            return await self._failed(session, progress, turns[-1].position, error)
        outcome = await self._apply(session, progress, turns[-1].position, operations)
        outcome.more = len(turns) == settings.extraction_batch_turns
        return outcome

    async def _claim(self, session_id: str, through: int, model: str) -> bool:
        """Take the batch after ``through`` for one run, unless another worker holds it or the
        last run failed and its backoff has not passed."""
        now = utcnow()
        async with self._writers.write(), self._db() as db, db.begin():
            claimed = await db.execute(
                update(ExtractionRow)
                .where(
                    ExtractionRow.session_id == session_id,
                    ExtractionRow.extracted_through == through,
                    or_(ExtractionRow.claimed_until.is_(None), ExtractionRow.claimed_until <= now),
                )
                .values(status="running", model=model, claimed_until=now + CLAIM)
            )
        return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]

    async def _related(self, session: SessionRow, turns: Sequence[MessageRow]) -> list[MemoryRow]:
        """The owner's existing memories closest to the new turns (candidates to update)."""
        text = " ".join(turn.content for turn in turns)[:4000]
        hits = await self._index.search(
            session.owner_id,
            text,
            top_k=RELATED_MEMORIES,
            where=Condition(field="type", op="neq", value=MESSAGE_TYPE),
        )
        ids = [hit.id for hit in hits]
        async with self._db() as db:
            rows = await db.scalars(
                select(MemoryRow).where(
                    MemoryRow.id.in_(ids), MemoryRow.owner_id == session.owner_id
                )
            )
            found = {row.id: row for row in rows}
        return [found[memory_id] for memory_id in ids if memory_id in found]

    async def _ask(self, owner_id: str, model: str, prompt: Prompt) -> list[Operation]:
        client = await self._client_for(owner_id)
        if client is None:
            raise ExtractionError("the session's owner is unknown or disabled")
        async with client:
            try:
                completion = await client.chat(
                    model=model,
                    messages=prompt.messages(),
                    response_format=prompt.response_format(),
                    temperature=0,
                    max_tokens=MAX_OUTPUT_TOKENS,
                )
            except GatewayClientError as error:
                raise ExtractionError(f"the model call failed: {error.message}") from None
        if not completion.choices:
            raise ExtractionError("the model returned no choices")
        return prompt.parse(completion.choices[0].message.content)

    async def _failed(
        self, session: SessionRow, progress: ExtractionRow, last: int, error: Exception
    ) -> Outcome:
        """Record the failure; after the last attempt the batch is skipped (its turns stay
        searchable as messages) so one bad batch cannot stall the session for ever."""
        attempts = progress.attempts + 1
        give_up = attempts >= self._settings.extraction_max_attempts
        message = str(error) or type(error).__name__
        logger.warning(
            "memory extraction failed",
            extra={"session_id": session.id, "attempt": attempts, "error": message[:300]},
        )
        values: dict[str, object] = {
            "status": "failed",
            "attempts": 0 if give_up else attempts,
            "claimed_until": None if give_up else utcnow() + backoff(attempts),
            "last_error": message[:2000],
            "last_error_at": utcnow(),
            "last_run_at": utcnow(),
        }
        if give_up:
            values["extracted_through"] = last
        async with self._writers.write(), self._db() as db, db.begin():
            await db.execute(
                update(ExtractionRow)
                .where(
                    ExtractionRow.session_id == session.id,
                    ExtractionRow.extracted_through == progress.extracted_through,
                )
                .values(**values)
            )
        return Outcome(retry=not give_up, more=give_up)

    async def _apply(
        self,
        session: SessionRow,
        progress: ExtractionRow,
        last: int,
        operations: Sequence[Operation],
    ) -> Outcome:
        outcome = Outcome()
        try:
            await self._store_operations(session, progress, last, operations, outcome)
        except _BatchTaken:
            return Outcome()
        await self._reindex(session.owner_id, outcome)
        return outcome

    async def _store_operations(
        self,
        session: SessionRow,
        progress: ExtractionRow,
        last: int,
        operations: Sequence[Operation],
        outcome: Outcome,
    ) -> None:
        """One transaction: move the mark (or lose the race and store nothing), then apply."""
        async with self._writers.write(), self._db() as db, db.begin():
            moved = await db.execute(
                update(ExtractionRow)
                .where(
                    ExtractionRow.session_id == session.id,
                    ExtractionRow.extracted_through == progress.extracted_through,
                )
                .values(
                    extracted_through=last,
                    status="succeeded",
                    attempts=0,
                    last_run_at=utcnow(),
                    claimed_until=None,
                )
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                raise _BatchTaken
            for operation in operations:
                await _apply_one(db, session, operation, outcome)
            await db.execute(
                update(ExtractionRow)
                .where(ExtractionRow.session_id == session.id)
                .values(
                    memories_added=len(outcome.added),
                    memories_updated=len(outcome.updated),
                    memories_deleted=len(outcome.deleted),
                )
            )

    async def _reindex(self, owner_id: str, outcome: Outcome) -> None:
        """Bring the index up to date; on failure the rows stay ``indexed = false`` and the
        worker's sweep retries."""
        try:
            await self._index.remove(owner_id, [row.id for row in outcome.deleted])
            await self._index.add_memories(owner_id, [*outcome.added, *outcome.updated])
        except PlatformError as error:
            logger.warning("memory indexing failed", extra={"error": str(error)[:300]})
            return
        await mark_indexed(self._db, [*outcome.added, *outcome.updated])


async def _apply_one(
    db: AsyncSession, session: SessionRow, operation: Operation, outcome: Outcome
) -> None:
    sources = [Source(turn.id, turn.session_id, turn.position) for turn in operation.sources]
    target = operation.target
    if target is not None:
        target = await db.get(MemoryRow, target.id)
        if target is None or target.owner_id != session.owner_id:
            return  # deleted meanwhile
    if operation.action == "delete" and target is not None:
        await db.delete(target)
        outcome.deleted.append(target)
        return
    if operation.action == "update" and target is not None:
        await _update(db, target, operation, sources)
        outcome.updated.append(target)
        return
    duplicate = await find_duplicate(db, session.owner_id, session.agent_id, operation.text)
    if duplicate is not None:
        await _link(db, duplicate.id, sources)
        return
    row = new_memory(
        session.owner_id,
        session.team_id,
        text=operation.text,
        type=operation.type,
        origin="extracted",
        agent_id=session.agent_id,
        session_id=session.id,
        occurred_at=operation.time,
    )
    db.add(row)
    await db.flush()
    db.add_all(source_rows(row.id, sources))
    outcome.added.append(row)


async def _update(
    db: AsyncSession, row: MemoryRow, operation: Operation, sources: Sequence[Source]
) -> None:
    row.text = operation.text
    row.type = operation.type
    row.content_hash = content_hash(operation.text)
    if operation.time is not None:
        row.occurred_at = operation.time
    row.indexed = False
    row.updated_at = utcnow()
    await _link(db, row.id, sources)


async def _link(db: AsyncSession, memory_id: str, sources: Sequence[Source]) -> None:
    """Adds source turns a memory does not have yet."""
    have = set(
        await db.scalars(
            select(MemorySourceRow.message_id).where(MemorySourceRow.memory_id == memory_id)
        )
    )
    db.add_all(source_rows(memory_id, [s for s in sources if s.message_id not in have]))
