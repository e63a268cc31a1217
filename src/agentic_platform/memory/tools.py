"""Memory tools an agent can expose to its model: ``recall`` and ``remember``.

Each is an agent :class:`~agentic_platform.agents.tools.base.FunctionTool` (a JSON-schema
description in the OpenAI ``tools`` shape and an async call answering JSON text), bound to a
:class:`~agentic_platform.memory.client.MemoryClient` that already speaks for the user. The
model sees the memory, its type and time, and a short quote of where it came from, never ids
it could misuse.
"""

from __future__ import annotations

from typing import Any, get_args

import orjson

from agentic_platform.agents.tools.base import FunctionTool
from agentic_platform.memory.client import MemoryClient
from agentic_platform.memory.schemas import MESSAGE_TYPE, MemoryType, SearchHitOut

QUOTE_CHARS = 200


RECALL_PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "query": {"type": "string", "description": "What to remember, in a few words."},
        "top_k": {"type": "integer", "minimum": 1, "maximum": 20, "default": 5},
        "type": {
            "type": "string",
            "enum": [*get_args(MemoryType), MESSAGE_TYPE],
            "description": "Only this kind of memory ('message' = earlier conversation turns).",
        },
    },
    "required": ["query"],
    "additionalProperties": False,
}

REMEMBER_PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "text": {
            "type": "string",
            "description": "One self-contained sentence, understandable without this chat.",
        },
        "type": {"type": "string", "enum": list(get_args(MemoryType)), "default": "fact"},
    },
    "required": ["text"],
    "additionalProperties": False,
}


def _hit(hit: SearchHitOut) -> dict[str, Any]:
    source = hit.sources[0] if hit.sources else None
    quote = (source.content or "")[:QUOTE_CHARS] if source else ""
    found: dict[str, Any] = {"memory": hit.text, "type": hit.type}
    if hit.occurred_at is not None:
        found["time"] = hit.occurred_at.date().isoformat()
    if quote and quote != hit.text:
        found["from"] = f"{source.name or source.role}: {quote}" if source else quote
    return found


def memory_tools(client: MemoryClient, *, agent_id: str | None = None) -> list[FunctionTool]:
    """``recall`` and ``remember`` for one user (the client's) and, optionally, one agent:
    memories an agent writes are tied to it; recall searches all of the user's memories."""

    async def recall(query: str, top_k: int = 5, type: str | None = None) -> str:
        where = {"field": "type", "op": "eq", "value": type} if type else None
        found = [_hit(hit) for hit in await client.search(query, top_k=top_k, filter=where)]
        return orjson.dumps(found).decode()

    async def remember(text: str, type: MemoryType = "fact") -> str:
        stored = await client.remember(text, type=type, agent_id=agent_id)
        return orjson.dumps({"remembered": stored.text, "type": stored.type}).decode()

    return [
        FunctionTool(
            "recall",
            "Search what you know about the user from earlier conversations: preferences, "
            "facts, events and instructions, with where each came from.",
            RECALL_PARAMETERS,
            recall,
        ),
        FunctionTool(
            "remember",
            "Store one thing worth knowing in later conversations (the user asked you to "
            "remember it, or it is a lasting preference, fact or instruction).",
            REMEMBER_PARAMETERS,
            remember,
        ),
    ]
