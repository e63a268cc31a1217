"""The memory gateway: its parts, wired at start-up, and the operations that span them.

The database holds sessions, turns and memories; the search index is derived from it. Routes
call :class:`MemoryGateway`, which keeps the two in step (a memory written through the API is
searchable when the call returns; a deleted session's turns leave the index with it) and
turns search hits back into memories with their sources, re-read by id and owner.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import AsyncExitStack, nullcontext
from dataclasses import dataclass

from agentic_platform.auth.principal import Principal
from agentic_platform.clients.internal import llm_client_for
from agentic_platform.clients.llm import LLMClient
from agentic_platform.db.base import utcnow
from agentic_platform.errors import ConfigurationError, InvalidRequestError
from agentic_platform.memory import schemas
from agentic_platform.memory.access import owner_for
from agentic_platform.memory.index import FILTER_FIELDS, MEMORY_BM25, MEMORY_FUSION, MemoryIndex
from agentic_platform.memory.models import MemoryRow, MessageRow
from agentic_platform.memory.pipeline import SessionPipeline
from agentic_platform.memory.sessions import SessionStore
from agentic_platform.memory.store import Memory, MemoryStore, mark_indexed
from agentic_platform.memory.unindexed import (
    UNINDEXED_LIMIT,
    candidate_hits,
    lexical_candidates,
    merged,
)
from agentic_platform.memory.worker import MemoryWorker
from agentic_platform.memory.writers import Writers
from agentic_platform.search.backends.base import SearchBackend
from agentic_platform.search.backends.sqlite import SqliteSearchBackend
from agentic_platform.search.embedding import GatewayEmbedder
from agentic_platform.search.filters import check_filter
from agentic_platform.settings import MemorySettings
from agentic_platform.state import PlatformState

Turns = dict[str, tuple[MessageRow, str]]

logger = logging.getLogger("agentic_platform.memory")


@dataclass
class MemoryGateway:
    settings: MemorySettings
    sessions: SessionStore
    memories: MemoryStore
    index: MemoryIndex
    worker: MemoryWorker

    # --- sessions ------------------------------------------------------------------------

    async def delete_session(
        self, caller: Principal, session_id: str, *, with_memories: bool
    ) -> None:
        session = await self.sessions.delete(caller, session_id)
        await self.index.remove_session_turns(session.owner_id, session.id)
        if with_memories:
            removed = await self.memories.delete_from_session(session.id)
            await self.index.remove(session.owner_id, [row.id for row in removed])

    async def extraction_status(
        self, caller: Principal, session_id: str
    ) -> schemas.ExtractionStatus:
        progress, last = await self.sessions.progress(caller, session_id)
        model = self.settings.extraction_model
        pending = max(0, last - progress.extracted_through) if model else 0
        status = progress.status
        claim_lapsed = progress.claimed_until is None or progress.claimed_until <= utcnow()
        if model is None:
            status = "disabled"
        elif status == "running" and claim_lapsed:
            status = "pending"  # the run that claimed the batch ended without a word (a crash)
        elif pending and status in ("idle", "succeeded"):
            status = "pending"
        return schemas.ExtractionStatus(
            session_id=session_id,
            enabled=model is not None,
            model=model,
            status=status,
            last_position=last,
            indexed_through=min(progress.indexed_through, last),
            extracted_through=progress.extracted_through,
            pending_turns=pending,
            attempts=progress.attempts,
            last_run_at=progress.last_run_at,
            last_error=progress.last_error,
            last_error_at=progress.last_error_at,
            memories_added=progress.memories_added,
            memories_updated=progress.memories_updated,
            memories_deleted=progress.memories_deleted,
        )

    # --- memories ------------------------------------------------------------------------

    async def create_memory(
        self, caller: Principal, spec: schemas.MemoryCreate
    ) -> tuple[schemas.MemoryOut, bool]:
        memory, created = await self.memories.create(caller, spec)
        if created:
            await self._index_now(memory.row)
        return (await self.present(memory.row.owner_id, [memory]))[0], created

    async def update_memory(
        self, caller: Principal, memory_id: str, change: schemas.MemoryUpdate
    ) -> schemas.MemoryOut:
        memory = await self.memories.update(caller, memory_id, change)
        await self._index_now(memory.row)
        return (await self.present(memory.row.owner_id, [memory]))[0]

    async def delete_memory(self, caller: Principal, memory_id: str) -> None:
        row = await self.memories.delete(caller, memory_id)
        await self.index.remove(row.owner_id, [row.id])

    async def _index_now(self, row: MemoryRow) -> None:
        """Make an API write searchable before answering. The write is committed already, so
        an index failure does not fail the call: the worker's sweep indexes the row later."""
        try:
            await self.index.add_memories(row.owner_id, [row])
        except Exception:
            logger.warning("indexing a memory failed; the worker retries", exc_info=True)
            return
        await mark_indexed(self.memories.sessionmaker, [row])

    async def present(self, owner_id: str, memories: Sequence[Memory]) -> list[schemas.MemoryOut]:
        wanted = [s.message_id for m in memories for s in m.sources]
        turns = await self.sessions.owned_messages(owner_id, wanted)
        return [_memory_out(memory, turns) for memory in memories]

    # --- search --------------------------------------------------------------------------

    async def search(
        self, caller: Principal, request: schemas.SearchRequest
    ) -> schemas.SearchResponse:
        owner_id = owner_for(caller, request.user_id)
        top_k = request.top_k or self.settings.search_top_k
        if top_k > self.settings.search_max_top_k:
            raise InvalidRequestError(
                f"top_k may be at most {self.settings.search_max_top_k}.", param="top_k"
            )
        if request.filter is not None:
            check_filter(request.filter, FILTER_FIELDS)
        # Turns the worker has not indexed yet are found by their words (see .unindexed).
        candidates = []
        if request.mode != "semantic":
            candidates = lexical_candidates(
                await self.sessions.unindexed(owner_id, UNINDEXED_LIMIT),
                request.query,
                where=request.filter,
                context_turns=self.settings.context_turns,
                limit=top_k,
            )
        vector, cosines = None, None
        if request.mode != "lexical":
            vector, cosines = await self.index.query_vector(
                owner_id, request.query, [(c.turn.id, c.text) for c in candidates]
            )
        hits = await self.index.search(
            owner_id,
            request.query,
            top_k=top_k,
            where=request.filter,
            mode=request.mode,
            min_score=request.min_score,
            vector=vector,
        )
        fresh = candidate_hits(candidates, cosines, min_score=request.min_score)
        hits = merged(hits, fresh, top_k)
        memory_ids = [h.id for h in hits if h.metadata.get("type") != schemas.MESSAGE_TYPE]
        memories = await self.memories.owned(owner_id, memory_ids)
        wanted = [h.id for h in hits if h.id not in memories]
        wanted += [s.message_id for m in memories.values() for s in m.sources]
        turns = await self.sessions.owned_messages(owner_id, wanted)
        results: list[schemas.SearchHitOut] = []
        for hit in hits:
            if hit.id in memories:
                found = _memory_out(memories[hit.id], turns)
            elif hit.id in turns:
                found = _turn_out(owner_id, *turns[hit.id])
            else:
                continue  # deleted since it was indexed
            results.append(schemas.SearchHitOut(**found.model_dump(), score=hit.score))
        return schemas.SearchResponse(data=results)


def _source_out(message_id: str, session_id: str, position: int, turns: Turns) -> schemas.SourceOut:
    found = turns.get(message_id)
    if found is None:
        return schemas.SourceOut(message_id=message_id, session_id=session_id, position=position)
    turn = found[0]
    return schemas.SourceOut(
        message_id=message_id,
        session_id=session_id,
        position=position,
        role=turn.role,
        name=turn.name,
        content=turn.content,
        occurred_at=turn.occurred_at or turn.created_at,
        metadata=turn.metadata_ or {},
    )


def _memory_out(memory: Memory, turns: Turns) -> schemas.MemoryOut:
    row = memory.row
    return schemas.MemoryOut(
        id=row.id,
        user_id=row.owner_id,
        agent_id=row.agent_id,
        session_id=row.session_id,
        type=row.type,
        text=row.text,
        occurred_at=row.occurred_at,
        metadata=row.metadata_ or {},  # a null stored by an older release reads as {}
        origin=row.origin,
        created_at=row.created_at,
        updated_at=row.updated_at,
        sources=[
            _source_out(s.message_id, s.session_id, s.position, turns) for s in memory.sources
        ],
    )


def _turn_out(owner_id: str, turn: MessageRow, agent_id: str) -> schemas.MemoryOut:
    """A raw turn as a search result: its own source."""
    return schemas.MemoryOut(
        id=turn.id,
        user_id=owner_id,
        agent_id=agent_id,
        session_id=turn.session_id,
        type=schemas.MESSAGE_TYPE,
        text=turn.content,
        occurred_at=turn.occurred_at or turn.created_at,
        metadata=turn.metadata_,
        origin=schemas.MESSAGE_TYPE,
        created_at=turn.created_at,
        updated_at=turn.created_at,
        sources=[_source_out(turn.id, turn.session_id, turn.position, {turn.id: (turn, agent_id)})],
    )


# --- start-up ----------------------------------------------------------------------------


def _backend(state: PlatformState) -> tuple[SearchBackend, bool]:
    """The configured search backend, and whether its collection is shared by all owners
    (pgvector) or one per owner (the embedded backends, which keep every index in memory)."""
    settings = state.settings.memory
    choice = settings.search_backend
    if choice == "auto":
        choice = "sqlite" if state.engine.dialect.name == "sqlite" else "pgvector"
    if choice == "sqlite":
        return SqliteSearchBackend(state.engine, MEMORY_BM25, MEMORY_FUSION), False
    if choice == "memory":
        from agentic_platform.search.backends.memory import MemorySearchBackend

        return MemorySearchBackend(MEMORY_BM25, MEMORY_FUSION), False
    from agentic_platform.search.backends.pgvector import PgVectorSearchBackend

    url = settings.pgvector_url.get_secret_value() if settings.pgvector_url else None
    url = url or state.settings.effective_database_url
    if not url.startswith(("postgresql://", "postgresql+asyncpg://")):
        raise ConfigurationError(
            "memory.search_backend=pgvector needs PostgreSQL: set AGENTIC_MEMORY__PGVECTOR_URL"
        )
    return PgVectorSearchBackend(url, MEMORY_FUSION), True


async def start_memory(state: PlatformState, stack: AsyncExitStack) -> None:
    """Builds the memory gateway into ``state.memory`` and starts its worker."""
    settings = state.settings.memory
    backend, shared = _backend(state)
    stack.push_async_callback(backend.aclose)

    async def client_for(owner_id: str) -> LLMClient | None:
        owner = await state.authenticator.principal_by_id(owner_id)
        return llm_client_for(state, owner) if owner is not None else None

    async def embed(owner_id: str, texts: Sequence[str]) -> list[list[float]]:
        client = await client_for(owner_id)
        if client is None:
            raise InvalidRequestError(f"The user '{owner_id}' is unknown or disabled.")
        async with client:
            vectors = await GatewayEmbedder(client, settings.embedding_model).embed(list(texts))
        rows: list[list[float]] = vectors.tolist()
        return rows

    writers = Writers(one_writer=state.engine.dialect.name == "sqlite")
    index = MemoryIndex(
        backend,
        embed,
        shared=shared,
        embedding_model=settings.embedding_model,
        # The sqlite backend writes to the platform database: its writes queue with ours.
        write=writers.write if isinstance(backend, SqliteSearchBackend) else nullcontext,
    )
    memories = MemoryStore(state.sessions)
    sessions = SessionStore(
        state.sessions, state.engine, writers, max_message_bytes=settings.max_message_bytes
    )
    pipeline = SessionPipeline(state.sessions, sessions, index, client_for, settings)
    worker = MemoryWorker(pipeline, sessions, memories, index, settings)
    sessions.on_append = worker.notify
    metrics = state.telemetry.metrics
    if metrics is not None:
        metrics.watch_queue("memory_indexing", lambda: worker.indexing.depth)
        metrics.watch_queue("memory_extraction", lambda: worker.extracting.depth)
    worker.start()
    stack.push_async_callback(worker.aclose)
    state.memory = MemoryGateway(settings, sessions, memories, index, worker)
