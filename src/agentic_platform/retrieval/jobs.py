"""Ingestion jobs: large batches run in the background with a status to poll.

A job runs in the process that accepted it, as the principal who started it (its embeddings
are metered to them). Its row is updated as documents finish, throttled to a few writes a
second; each failed document is recorded with its position and the error, and the others go
on. A job still running when the process stops is marked ``failed`` at the next start
(re-submit it: ingestion is idempotent).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from sqlalchemy import select, update

from agentic_platform.auth.keys import new_id
from agentic_platform.auth.principal import Principal
from agentic_platform.db.base import utcnow
from agentic_platform.errors import InvalidRequestError, NotFoundError, PlatformError
from agentic_platform.retrieval.documents import Documents
from agentic_platform.retrieval.ingest import Outcome
from agentic_platform.retrieval.models import IngestJobRow, KnowledgeBaseRow
from agentic_platform.retrieval.schemas import DocumentIn, IngestJob, JobError
from agentic_platform.settings import RetrievalSettings
from agentic_platform.state import PlatformState

logger = logging.getLogger("agentic_platform.retrieval")
SAVE_EVERY_SECONDS = 0.5


def to_job(row: IngestJobRow) -> IngestJob:
    return IngestJob(
        id=row.id,
        knowledge_base_id=row.kb_id,
        status=row.status,
        total=row.total,
        succeeded=row.succeeded,
        failed=row.failed,
        errors=[JobError.model_validate(error) for error in row.errors],
        created_at=row.created_at,
        updated_at=row.updated_at,
        finished_at=row.finished_at,
    )


class _Progress:
    def __init__(self, total: int) -> None:
        self.total = total
        self.succeeded = 0
        self.errors: list[dict[str, object]] = []
        self.saved_at = 0.0

    def record(self, index: int, outcome: Outcome) -> None:
        if isinstance(outcome, PlatformError):
            self.errors.append(
                {
                    "index": index,
                    "document_id": None,
                    "code": outcome.code,
                    "message": outcome.message,
                }
            )
        else:
            self.succeeded += 1

    @property
    def status(self) -> str:
        if not self.errors:
            return "succeeded"
        return "partial" if self.succeeded else "failed"


class IngestJobs:
    """Starts ingestion jobs as background tasks of this process and reports on them."""

    def __init__(
        self, state: PlatformState, settings: RetrievalSettings, documents: Documents
    ) -> None:
        self._sessions = state.sessions
        self._settings = settings
        self._documents = documents
        self._tasks: dict[asyncio.Task[None], str] = {}
        self._running = asyncio.Semaphore(settings.max_concurrent_jobs)

    @property
    def in_flight(self) -> int:
        """Jobs of this process queued or running."""
        return len(self._tasks)

    async def recover(self) -> None:
        """Mark jobs a stopped process left running as failed."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(IngestJobRow)
                .where(IngestJobRow.status.in_(("queued", "running")))
                .values(status="failed", finished_at=utcnow(), updated_at=utcnow())
            )

    async def start(
        self, principal: Principal, kb: KnowledgeBaseRow, documents: Sequence[DocumentIn]
    ) -> IngestJob:
        if len(documents) > self._settings.max_documents_per_job:
            raise InvalidRequestError(
                f"A job takes at most {self._settings.max_documents_per_job} documents.",
                param="documents",
            )
        if kb.backend == "bedrock":
            await self._documents.prepare_all(kb, [])  # refuses read-only backends
        row = IngestJobRow(
            id=new_id("job"),
            kb_id=kb.id,
            principal_id=principal.id,
            status="queued",
            total=len(documents),
            errors=[],
        )
        async with self._sessions.begin() as session:
            session.add(row)
        task = asyncio.create_task(self._run(row.id, principal, kb, documents))
        self._tasks[task] = kb.id
        task.add_done_callback(lambda done: self._tasks.pop(done, None))
        return to_job(row)

    async def _run(
        self,
        job_id: str,
        principal: Principal,
        kb: KnowledgeBaseRow,
        documents: Sequence[DocumentIn],
    ) -> None:
        async with self._running:
            await self._run_now(job_id, principal, kb, documents)

    async def _run_now(
        self,
        job_id: str,
        principal: Principal,
        kb: KnowledgeBaseRow,
        documents: Sequence[DocumentIn],
    ) -> None:
        progress = _Progress(len(documents))
        await self._save(job_id, progress, "running")

        async def report(index: int, outcome: Outcome) -> None:
            progress.record(index, outcome)
            if isinstance(outcome, PlatformError) and documents[index].id:
                progress.errors[-1]["document_id"] = documents[index].id
            if time.monotonic() - progress.saved_at > SAVE_EVERY_SECONDS:
                await self._save(job_id, progress, "running")

        try:
            await self._documents.run(
                principal, kb, self._documents.prepared_lazily(kb, documents), report
            )
        except Exception as exc:
            logger.exception("ingest job failed", extra={"job_id": job_id})
            progress.errors.append(
                {"index": -1, "document_id": None, "code": "job_failed", "message": str(exc)}
            )
            await self._save(job_id, progress, "failed", finished=True)
            return
        await self._save(job_id, progress, progress.status, finished=True)

    async def _save(
        self, job_id: str, progress: _Progress, status: str, *, finished: bool = False
    ) -> None:
        progress.saved_at = time.monotonic()
        now = utcnow()
        async with self._sessions.begin() as session:
            await session.execute(
                update(IngestJobRow)
                .where(IngestJobRow.id == job_id)
                .values(
                    status=status,
                    succeeded=progress.succeeded,
                    failed=len(progress.errors),
                    errors=sorted(progress.errors, key=lambda e: int(e["index"])),
                    updated_at=now,
                    finished_at=now if finished else None,
                )
            )

    async def get(self, kb: KnowledgeBaseRow, job_id: str) -> IngestJob:
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(IngestJobRow).where(
                        IngestJobRow.id == job_id, IngestJobRow.kb_id == kb.id
                    )
                )
            ).scalar_one_or_none()
        if row is None:
            raise NotFoundError(f"No ingest job '{job_id}' for this knowledge base.")
        return to_job(row)

    async def cancel(self, kb_id: str | None = None) -> None:
        """Stop the jobs of one knowledge base (before deleting it), or all of them."""
        tasks = [task for task, owner in self._tasks.items() if kb_id in (None, owner)]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def aclose(self) -> None:
        await self.cancel()
