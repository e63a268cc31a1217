"""The memory search index: turns and memories as records of the shared search backends.

Both raw turns and long-term memories are records; a record's ``type`` tells them apart
(``message`` for a turn, else the memory's type), so one filter grammar selects either and
a search needs no second store. A turn's record text is the speaker and the words; its
context (weighted by BM25, embedded with it) holds the date and the neighbouring turns,
which is what lets a question find the answer turn ("What did you paint?" / "A sunset.").
The turn alone stays the result's source.

Isolation: the embedded backends keep one collection per owner (a search cannot reach
another user's records, and stays small); pgvector keeps one shared collection whose every
query carries ``owner_id``. Collection names end with a hash of the embedding model, so a
new model starts a new index (vectors of two models are never compared). Either way, hits
are then re-read from the database by id *and owner* before anything is returned.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agentic_platform.memory.models import MemoryRow, MessageRow, SessionRow
from agentic_platform.memory.schemas import MESSAGE_TYPE, SearchMode
from agentic_platform.search.backends.base import IndexRecord, SearchBackend, SearchHit, SearchQuery
from agentic_platform.search.filters import AllOf, Condition, Filter
from agentic_platform.search.fusion import FusionParameters
from agentic_platform.search.lexical import BM25Parameters
from agentic_platform.search.vectors import as_unit_rows

Embed = Callable[[str, Sequence[str]], Awaitable[Sequence[Sequence[float]]]]
"""Embeds texts for an owner (through the LLM gateway, metered to them)."""

MEMORY_BM25 = BM25Parameters(k1=0.9, b=0.5, context_weight=0.8)
"""Tuned on three LoCoMo conversations (conv-26, conv-30, conv-41), reported on all seven
(docs/benchmarks.md); turns are short, so length normalisation is weaker than for documents."""
MEMORY_FUSION = FusionParameters(semantic_weight=0.6, candidates=100)
RECENT_VECTORS = 4096
"""Turn vectors kept in memory: a turn is indexed again when the turns after it arrive (its
context grows), and its own vector need not be computed again."""

FILTER_FIELDS = frozenset({"agent_id", "type", "session_id", "role", "origin", "time"})


_QUESTION_WORDS = """
    what when where who whom whose which why how did does do is are was were would could
    should might will can has have had been be being the a an of to in on at for with about ever
"""
QUESTION_WORDS = frozenset(_QUESTION_WORDS.split())
"""Words of a question that say nothing about its subject; BM25 would otherwise reward turns
that merely ask something. Tuned on LoCoMo's questions (see bench/memory)."""
_WORD = re.compile(r"\w+")


def keywords(query: str) -> str:
    """The query's lexical side: the question without its question words (the vector side
    embeds the whole question)."""
    kept = [word for word in _WORD.findall(query) if word.lower() not in QUESTION_WORDS]
    return " ".join(kept) or query


def iso_time(value: datetime | None) -> str | None:
    """UTC ISO 8601 text: the grammar compares strings by code point, so these order in
    time and a plain date such as '2024-05-01' works as a bound."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


def _speaker(turn: MessageRow) -> str:
    return turn.name or turn.role


def turn_text(turn: MessageRow) -> str:
    return f"{_speaker(turn)}: {turn.content}"


@dataclass(frozen=True, slots=True)
class TurnWindow:
    """A turn with its neighbours in the same session (for the record's context)."""

    turn: MessageRow
    before: Sequence[MessageRow]
    after: Sequence[MessageRow]

    def context(self) -> str:
        when = self.turn.occurred_at or self.turn.created_at
        parts = [f"[{when.day} {when:%B %Y}]"]
        parts.extend(turn_text(other) for other in (*self.before, *self.after))
        return " ".join(parts)


def windows(
    turns: Sequence[MessageRow], earlier: Sequence[MessageRow], width: int
) -> list[TurnWindow]:
    """Each of ``turns`` with up to ``width`` neighbours each side; ``earlier`` holds the
    turns just before the first (the turns after the last are not written yet)."""
    ordered = [*earlier, *turns]
    start = len(earlier)
    return [
        TurnWindow(
            ordered[i],
            ordered[max(0, i - width) : i] if width else [],
            ordered[i + 1 : i + 1 + width] if width else [],
        )
        for i in range(start, len(ordered))
    ]


class MemoryIndex:
    """Writes turns and memories to the backend and searches an owner's records."""

    def __init__(
        self,
        backend: SearchBackend,
        embed: Embed,
        *,
        shared: bool,
        embedding_model: str,
        write: Callable[[], AbstractAsyncContextManager[None]] = contextlib.nullcontext,
    ) -> None:
        self._backend = backend
        self._write = write
        # Vectors of different models never share a collection (nor a pgvector table).
        self._suffix = hashlib.sha256(embedding_model.encode()).hexdigest()[:8]
        self._embed = embed
        self._shared = shared
        self._ready = False
        self._connecting = asyncio.Lock()
        self._vectors: OrderedDict[str, Sequence[float]] = OrderedDict()

    async def backend(self) -> SearchBackend:
        """The backend, after one first call made alone: backends that set themselves up on
        first use (pgvector creates its extension) must not do it twice at once."""
        if not self._ready:
            async with self._connecting:
                if not self._ready:
                    probe = SearchQuery(text="ready", mode="lexical", top_k=1)
                    await self._backend.search(self.collection(""), probe)
                    self._ready = True
        return self._backend

    def collection(self, owner_id: str) -> str:
        if self._shared:
            return f"memory_{self._suffix}"
        return f"memory_{owner_id}_{self._suffix}"

    async def add_turns(
        self, owner_id: str, batches: Sequence[tuple[SessionRow, Sequence[TurnWindow]]]
    ) -> None:
        """Index turns of one owner's sessions: one embedding call, one write."""
        pairs = [(session, window) for session, batch in batches for window in batch]
        if not pairs:
            return
        texts = [turn_text(window.turn) for _, window in pairs]
        vectors = await self._turn_vectors(owner_id, [w.turn.id for _, w in pairs], texts)
        records = [
            IndexRecord(
                id=window.turn.id,
                text=text,
                context=window.context(),
                vector=vector,
                metadata=turn_metadata(session, window.turn),
            )
            for (session, window), text, vector in zip(pairs, texts, vectors, strict=True)
        ]
        backend = await self.backend()
        async with self._write():
            await backend.upsert(self.collection(owner_id), records)

    async def _turn_vectors(
        self, owner_id: str, ids: Sequence[str], texts: Sequence[str]
    ) -> list[Sequence[float]]:
        """Vectors of the turns' own text: reused when the turn was embedded recently."""
        missing = [i for i, turn_id in enumerate(ids) if turn_id not in self._vectors]
        if missing:
            fresh = await self._embed(owner_id, [texts[i] for i in missing])
            for i, vector in zip(missing, fresh, strict=True):
                self._vectors[ids[i]] = vector
        vectors = []
        for turn_id in ids:
            self._vectors.move_to_end(turn_id)
            vectors.append(self._vectors[turn_id])
        self._trim_vectors()
        return vectors

    async def query_vector(
        self, owner_id: str, text: str, turns: Sequence[tuple[str, str]] = ()
    ) -> tuple[Sequence[float], list[float]]:
        """The query's embedding and its cosine with each of ``turns`` (id, text), embedded in
        one call; the turns' vectors are kept, so indexing them later costs no embedding."""
        known = {
            turn_id: self._vectors[turn_id] for turn_id, _ in turns if turn_id in self._vectors
        }
        missing = [(turn_id, words) for turn_id, words in turns if turn_id not in known]
        vectors = await self._embed(owner_id, [text, *(words for _, words in missing)])
        for (turn_id, _), vector in zip(missing, vectors[1:], strict=True):
            known[turn_id] = self._vectors[turn_id] = vector
        self._trim_vectors()
        if not turns:
            return vectors[0], []
        unit = as_unit_rows(
            [vectors[0], *(known[turn_id] for turn_id, _ in turns)], len(vectors[0])
        )
        return vectors[0], (unit[1:] @ unit[0]).tolist()

    def _trim_vectors(self) -> None:
        """Forget the least recently used turn vectors beyond :data:`RECENT_VECTORS`."""
        while len(self._vectors) > RECENT_VECTORS:
            self._vectors.popitem(last=False)

    async def add_memories(self, owner_id: str, rows: Sequence[MemoryRow]) -> None:
        if not rows:
            return
        vectors = await self._embed(owner_id, [row.text for row in rows])
        records = [
            IndexRecord(id=row.id, text=row.text, vector=vector, metadata=_memory_metadata(row))
            for row, vector in zip(rows, vectors, strict=True)
        ]
        backend = await self.backend()
        async with self._write():
            await backend.upsert(self.collection(owner_id), records)

    async def remove(self, owner_id: str, ids: Sequence[str]) -> None:
        if ids:
            backend = await self.backend()
            async with self._write():
                await backend.delete(self.collection(owner_id), ids=list(ids))

    async def remove_session_turns(self, owner_id: str, session_id: str) -> None:
        where = AllOf.model_construct(
            all_of=[
                Condition(field="session_id", op="eq", value=session_id),
                Condition(field="type", op="eq", value=MESSAGE_TYPE),
            ]
        )
        backend = await self.backend()
        async with self._write():
            await backend.delete(self.collection(owner_id), where=self._scoped(owner_id, where))

    async def search(
        self,
        owner_id: str,
        text: str,
        *,
        top_k: int,
        where: Filter | None,
        mode: SearchMode = "hybrid",
        min_score: float | None = None,
        vector: Sequence[float] | None = None,
    ) -> list[SearchHit]:
        """The owner's best records; ``vector`` is the query's embedding if already made.
        ``where`` is trusted: the gateway checks a caller's filter against
        :data:`FILTER_FIELDS` before it searches."""
        if mode != "lexical" and vector is None:
            vector = (await self._embed(owner_id, [text]))[0]
        query = SearchQuery(
            text=keywords(text),
            vector=vector,
            mode=mode,
            top_k=top_k,
            filter=self._scoped(owner_id, where),
            min_score=min_score,
        )
        backend = await self.backend()
        hits = await backend.search(self.collection(owner_id), query)
        return [hit for hit in hits if hit.metadata.get("owner_id") == owner_id]

    def _scoped(self, owner_id: str, where: Filter | None) -> Filter | None:
        """The caller's filter, and (in a shared collection) the owner's condition."""
        if not self._shared:
            return where
        owner = Condition(field="owner_id", op="eq", value=owner_id)
        if where is None:
            return owner
        return AllOf.model_construct(all_of=[owner, where])


def turn_metadata(session: SessionRow, turn: MessageRow) -> dict[str, Any]:
    return _without_none(
        owner_id=session.owner_id,
        agent_id=session.agent_id,
        session_id=session.id,
        type=MESSAGE_TYPE,
        origin=MESSAGE_TYPE,
        role=turn.role,
        time=iso_time(turn.occurred_at or turn.created_at),
    )


def _memory_metadata(row: MemoryRow) -> dict[str, Any]:
    return _without_none(
        owner_id=row.owner_id,
        agent_id=row.agent_id,
        session_id=row.session_id,
        type=row.type,
        origin=row.origin,
        time=iso_time(row.occurred_at),
    )


def _without_none(**fields: Any) -> dict[str, Any]:
    """A missing field fails ``eq`` and passes ``neq``, the grammar's rule for absent data."""
    return {name: value for name, value in fields.items() if value is not None}
