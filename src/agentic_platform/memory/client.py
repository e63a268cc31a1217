"""A typed client for the memory gateway's API (``/memory/v1``).

The same class calls the gateway over the network (``base_url``) or in-process (an httpx
``ASGITransport``); a platform service acting for a user sends ``X-Agentic-Act-As`` in
``headers`` (see :func:`agentic_platform.clients.internal.memory_client_for`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel

from agentic_platform.clients.base import ApiClient, raise_for
from agentic_platform.errors import PlatformError
from agentic_platform.memory import schemas

M = TypeVar("M", bound=BaseModel)


class MemoryClientError(PlatformError):
    """The gateway answered with an error: its status, message, code and param."""


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


class MemoryClient(ApiClient):
    api = "/memory/v1"
    default_timeout = 30.0

    async def _send(
        self, model: type[M], method: str, path: str, *, body: Any = None, **params: Any
    ) -> M:
        response = await self._http.request(
            method,
            path,
            content=orjson.dumps(body) if body is not None else None,
            headers={"Content-Type": "application/json"} if body is not None else None,
            params=_clean(params) or None,
        )
        raise_for(response, MemoryClientError)
        return model.model_validate_json(response.content)

    async def _delete(self, path: str, **params: Any) -> None:
        raise_for(await self._http.delete(path, params=_clean(params) or None), MemoryClientError)

    # --- sessions ------------------------------------------------------------------------

    async def create_session(
        self, agent_id: str, metadata: dict[str, Any] | None = None
    ) -> schemas.SessionOut:
        body = {"agent_id": agent_id, "metadata": metadata or {}}
        return await self._send(schemas.SessionOut, "POST", "/sessions", body=body)

    async def get_session(self, session_id: str) -> schemas.SessionOut:
        return await self._send(schemas.SessionOut, "GET", f"/sessions/{session_id}")

    async def list_sessions(
        self, *, agent_id: str | None = None, limit: int = 50, offset: int = 0
    ) -> schemas.SessionList:
        return await self._send(
            schemas.SessionList, "GET", "/sessions", agent_id=agent_id, limit=limit, offset=offset
        )

    async def delete_session(self, session_id: str, *, delete_memories: bool = False) -> None:
        await self._delete(f"/sessions/{session_id}", delete_memories=str(delete_memories).lower())

    async def append(
        self,
        session_id: str,
        role: schemas.Role,
        content: str,
        *,
        name: str | None = None,
        metadata: dict[str, Any] | None = None,
        occurred_at: datetime | None = None,
    ) -> schemas.MessageOut:
        """Append one turn to the session's history."""
        body = _clean(
            {
                "role": role,
                "content": content,
                "name": name,
                "metadata": metadata,
                "occurred_at": occurred_at.isoformat() if occurred_at else None,
            }
        )
        return await self._send(
            schemas.MessageOut, "POST", f"/sessions/{session_id}/messages", body=body
        )

    async def messages(
        self,
        session_id: str,
        *,
        limit: int = 100,
        after: int | None = None,
        before: int | None = None,
        last: int | None = None,
    ) -> schemas.MessageList:
        params = {"after": after, "before": before, "last": last}
        if last is None:
            params["limit"] = limit
        return await self._send(
            schemas.MessageList, "GET", f"/sessions/{session_id}/messages", **params
        )

    async def extraction(self, session_id: str) -> schemas.ExtractionStatus:
        return await self._send(
            schemas.ExtractionStatus, "GET", f"/sessions/{session_id}/extraction"
        )

    # --- memories ------------------------------------------------------------------------

    async def remember(
        self,
        text: str,
        *,
        type: schemas.MemoryType = "fact",
        agent_id: str | None = None,
        occurred_at: datetime | None = None,
        metadata: dict[str, Any] | None = None,
        source_message_ids: list[str] | None = None,
    ) -> schemas.MemoryOut:
        """Store one memory (an identical one already stored is returned instead)."""
        body = _clean(
            {
                "text": text,
                "type": type,
                "agent_id": agent_id,
                "occurred_at": occurred_at.isoformat() if occurred_at else None,
                "metadata": metadata,
                "source_message_ids": source_message_ids,
            }
        )
        return await self._send(schemas.MemoryOut, "POST", "/memories", body=body)

    async def get_memory(self, memory_id: str) -> schemas.MemoryOut:
        return await self._send(schemas.MemoryOut, "GET", f"/memories/{memory_id}")

    async def list_memories(
        self,
        *,
        agent_id: str | None = None,
        type: schemas.MemoryType | None = None,
        session_id: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> schemas.MemoryList:
        return await self._send(
            schemas.MemoryList,
            "GET",
            "/memories",
            agent_id=agent_id,
            type=type,
            session_id=session_id,
            limit=limit,
            offset=offset,
        )

    async def update_memory(self, memory_id: str, **change: Any) -> schemas.MemoryOut:
        body = schemas.MemoryUpdate(**change).model_dump(mode="json", exclude_unset=True)
        return await self._send(schemas.MemoryOut, "PATCH", f"/memories/{memory_id}", body=body)

    async def delete_memory(self, memory_id: str) -> None:
        await self._delete(f"/memories/{memory_id}")

    async def search(
        self,
        query: str,
        *,
        top_k: int | None = None,
        filter: dict[str, Any] | None = None,
        mode: schemas.SearchMode = "hybrid",
    ) -> list[schemas.SearchHitOut]:
        """The best memories and turns for the query, each with its source turns."""
        body = _clean({"query": query, "top_k": top_k, "filter": filter, "mode": mode})
        found = await self._send(schemas.SearchResponse, "POST", "/memories/search", body=body)
        return found.data
