"""A typed client for the retrieval API, for agents, the CLI and other services.

Same class in one process (``transport=httpx.ASGITransport(app)``, or
:func:`agentic_platform.clients.internal.retrieval_client_for`) and across the network.
Errors come back as :class:`~agentic_platform.clients.llm.GatewayClientError` carrying the
server's status and message.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel

from agentic_platform.clients.base import ApiClient, raise_for
from agentic_platform.clients.llm import GatewayClientError
from agentic_platform.retrieval.schemas import (
    Document,
    DocumentIn,
    DocumentList,
    IngestJob,
    IngestResponse,
    KnowledgeBase,
    KnowledgeBaseList,
    RetrieveResponse,
)

M = TypeVar("M", bound=BaseModel)
FINISHED = ("succeeded", "partial", "failed")


def _documents(documents: Sequence[DocumentIn | dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        d.model_dump(exclude_none=True) if isinstance(d, DocumentIn) else dict(d) for d in documents
    ]


class RetrievalClient(ApiClient):
    """The retrieval API for one API key (or a service key acting for a user)."""

    api = "/retrieval/v1"
    default_timeout = 120.0

    async def _call(
        self, method: str, path: str, model: type[M], json: Any = None, **params: Any
    ) -> M:
        query = {k: v for k, v in params.items() if v is not None}
        response = await self._http.request(method, path, json=json, params=query)
        raise_for(response, GatewayClientError)
        return model.model_validate_json(response.content)

    async def create_knowledge_base(self, name: str, **settings: Any) -> KnowledgeBase:
        return await self._call(
            "POST", "/knowledge-bases", KnowledgeBase, {"name": name, **settings}
        )

    async def list_knowledge_bases(self) -> list[KnowledgeBase]:
        return (await self._call("GET", "/knowledge-bases", KnowledgeBaseList)).data

    async def get_knowledge_base(self, kb: str) -> KnowledgeBase:
        return await self._call("GET", f"/knowledge-bases/{kb}", KnowledgeBase)

    async def delete_knowledge_base(self, kb: str) -> None:
        raise_for(await self._http.delete(f"/knowledge-bases/{kb}"), GatewayClientError)

    async def add_documents(
        self, kb: str, documents: Sequence[DocumentIn | dict[str, Any]]
    ) -> IngestResponse:
        """Ingest a small batch now (see ``start_ingest_job`` for large ones)."""
        body = {"documents": _documents(documents)}
        return await self._call("POST", f"/knowledge-bases/{kb}/documents", IngestResponse, body)

    async def start_ingest_job(
        self, kb: str, documents: Sequence[DocumentIn | dict[str, Any]]
    ) -> IngestJob:
        body = {"documents": _documents(documents)}
        return await self._call("POST", f"/knowledge-bases/{kb}/jobs", IngestJob, body)

    async def get_job(self, kb: str, job_id: str) -> IngestJob:
        return await self._call("GET", f"/knowledge-bases/{kb}/jobs/{job_id}", IngestJob)

    async def wait_for_job(
        self, kb: str, job_id: str, *, poll_seconds: float = 0.5, give_up_after: float = 3600
    ) -> IngestJob:
        """Poll until the job finishes (or ``give_up_after`` seconds pass)."""
        deadline = time.monotonic() + give_up_after
        while True:
            job = await self.get_job(kb, job_id)
            if job.status in FINISHED or time.monotonic() > deadline:
                return job
            await asyncio.sleep(poll_seconds)

    async def list_documents(
        self, kb: str, *, limit: int = 100, after: str | None = None
    ) -> DocumentList:
        return await self._call(
            "GET", f"/knowledge-bases/{kb}/documents", DocumentList, limit=limit, after=after
        )

    async def get_document(self, kb: str, document_id: str) -> Document:
        return await self._call("GET", f"/knowledge-bases/{kb}/documents/{document_id}", Document)

    async def delete_document(self, kb: str, document_id: str) -> None:
        raise_for(
            await self._http.delete(f"/knowledge-bases/{kb}/documents/{document_id}"),
            GatewayClientError,
        )

    async def retrieve(
        self,
        kb: str | Sequence[str],
        query: str,
        *,
        top_k: int = 10,
        search_type: str = "hybrid",
        filter: dict[str, Any] | None = None,
        min_score: float | None = None,
        group_by: str = "chunk",
        passages: int | None = None,
        neighbours: int | None = None,
        rerank: bool | str | None = None,
    ) -> RetrieveResponse:
        """Search one knowledge base, or several (a list) with results merged by score;
        ``group_by="document"`` for the best distinct documents (see docs/retrieval.md)."""
        body: dict[str, Any] = {"query": query, "top_k": top_k, "search_type": search_type}
        if group_by != "chunk":
            body["group_by"] = group_by
        options = {
            "filter": filter,
            "min_score": min_score,
            "passages": passages,
            "neighbours": neighbours,
            "rerank": rerank,
        }
        body.update({key: value for key, value in options.items() if value is not None})
        if isinstance(kb, str):
            path = f"/knowledge-bases/{kb}/retrieve"
        else:
            path, body["knowledge_bases"] = "/retrieve", list(kb)
        return await self._call("POST", path, RetrieveResponse, body)
