"""A run's conversation in the memory gateway: the session, its history, recalled memories,
and the new turns written back. All of it through the memory client acting for the user, so
the memory gateway's own rules (ownership, size limits, indexing and extraction of new
turns) apply unchanged."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, get_args

from agentic_platform.auth.principal import Principal
from agentic_platform.errors import InvalidRequestError, NotFoundError, PlatformError

if TYPE_CHECKING:
    from agentic_platform.memory.client import MemoryClient

logger = logging.getLogger("agentic_platform.agents")

MAX_RECALL_QUERY_CHARS = 4000
"""The memory gateway's longest search query."""


@dataclass
class Conversation:
    session_id: str | None
    history: list[dict[str, Any]] = field(default_factory=list)
    memories: list[str] = field(default_factory=list)


def _session_not_found(session_id: str) -> NotFoundError:
    return NotFoundError(
        f"No session '{session_id}'.", code="session_not_found", param="session_id"
    )


async def open_conversation(
    memory: MemoryClient | None,
    user: Principal,
    agent: str,
    session_id: str | None,
    *,
    history_turns: int,
) -> Conversation:
    """The user's session (``session_id``, or a new one) and its last turns. Someone else's
    session is reported missing, even to an admin: a run speaks only for its own user."""
    if memory is None:
        if session_id is not None:
            raise InvalidRequestError(
                "Sessions need the memory service, which this server cannot reach: leave "
                "out session_id.",
                param="session_id",
            )
        return Conversation(None)
    if session_id is None:
        created = await memory.create_session(agent)
        return Conversation(created.id)
    try:
        session = await memory.get_session(session_id)
    except PlatformError as error:
        if getattr(error, "status_code", None) == 404:
            raise _session_not_found(session_id) from None
        raise
    if session.user_id != user.id:
        raise _session_not_found(session_id)
    history: list[dict[str, Any]] = []
    if history_turns:
        turns = await memory.messages(session_id, last=history_turns)
        history = [
            {"role": turn.role, "content": turn.content}
            for turn in turns.data
            if turn.role in ("user", "assistant")
        ]
    return Conversation(session_id, history)


async def recall(memory: MemoryClient | None, text: str, top_k: int) -> list[str]:
    """The user's long-term memories most relevant to ``text`` (not raw turns: the history
    carries those). A memory gateway that cannot search leaves the run without them."""
    if memory is None or top_k == 0:
        return []
    from agentic_platform.memory.schemas import MemoryType

    where = {"field": "type", "op": "in", "value": list(get_args(MemoryType))}
    try:
        hits = await memory.search(text[:MAX_RECALL_QUERY_CHARS], top_k=top_k, filter=where)
    except PlatformError as error:
        logger.warning("recall failed", extra={"code": error.code})
        return []
    return [hit.text for hit in hits]


def _cut(text: str, max_bytes: int) -> str:
    return text.encode()[:max_bytes].decode(errors="ignore")


async def append_turns(
    memory: MemoryClient | None,
    session_id: str | None,
    question: str,
    answer: str,
    *,
    agent: str,
    max_bytes: int,
) -> None:
    """Write the turn (the user's message, then the answer) to the session; the memory
    gateway indexes it and extracts memories from it in the background. Texts longer than
    the memory gateway takes (``memory.max_message_bytes``) are stored cut to it."""
    if memory is None or session_id is None:
        return
    await memory.append(session_id, "user", _cut(question, max_bytes))
    if answer.strip():
        await memory.append(session_id, "assistant", _cut(answer, max_bytes), name=agent)
