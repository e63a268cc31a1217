"""Ingestion jobs: large batches run in the background with a status to poll.

A job runs as the principal who started it (its embeddings are metered to them), in the
replica that holds its lease (see :mod:`.leases`): first the one that accepted it. Its
documents are stored with it until it ends, so when that replica dies the job is resumed by
whichever replica (or the next start) takes over the lapsed lease: documents already
committed come back ``unchanged``, the rest are ingested. A job interrupted
``retrieval.job_max_attempts`` times, whose documents were not stored, or whose principal is
gone, is marked ``failed`` with the reason. Its row is updated as documents finish,
throttled to a few writes a second; each failed document is recorded with its position and
the error, and the others go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select

from agentic_platform.auth.keys import new_id
from agentic_platform.auth.principal import Principal
from agentic_platform.db.base import utcnow
from agentic_platform.errors import InvalidRequestError, NotFoundError, PlatformError
from agentic_platform.retrieval.documents import Documents
from agentic_platform.retrieval.ingest import Outcome
from agentic_platform.retrieval.intents import WriteIntents
from agentic_platform.retrieval.leases import JobLeases, replica_id
from agentic_platform.retrieval.models import IngestJobInputRow, IngestJobRow, KnowledgeBaseRow
from agentic_platform.retrieval.schemas import DocumentIn, IngestJob, JobError
from agentic_platform.settings import RetrievalSettings
from agentic_platform.state import PlatformState

logger = logging.getLogger("agentic_platform.retrieval")
SAVE_EVERY_SECONDS = 0.5
INTERNAL_FAILURE = "The job stopped on an internal error; the service log has the details."


class LeaseLost(Exception):
    """Another replica holds the job now (or it was deleted): this one stops running it."""


def _lost(error: BaseException) -> bool:
    if isinstance(error, BaseExceptionGroup):
        return error.subgroup(LeaseLost) is not None
    return isinstance(error, LeaseLost)


def to_job(row: IngestJobRow) -> IngestJob:
    return IngestJob(
        id=row.id,
        knowledge_base_id=row.kb_id,
        status=row.status,
        total=row.total,
        succeeded=row.succeeded,
        failed=row.failed,
        errors=[JobError.model_validate(error) for error in row.errors],
        attempts=row.attempts,
        created_at=row.created_at,
        updated_at=row.updated_at,
        finished_at=row.finished_at,
    )


class _Progress:
    def __init__(self, total: int) -> None:
        self.total = total
        self.succeeded = 0
        self.errors: list[dict[str, Any]] = []
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

    def fail(self, code: str, message: str) -> None:
        """A reason for the whole job (index -1)."""
        self.errors.append({"index": -1, "document_id": None, "code": code, "message": message})

    @property
    def status(self) -> str:
        if not self.errors:
            return "succeeded"
        return "partial" if self.succeeded else "failed"


@dataclass(frozen=True, slots=True)
class _Run:
    """One run of a job: what it ingests, and as whom."""

    job_id: str
    principal: Principal
    kb: KnowledgeBaseRow
    documents: Sequence[DocumentIn]


class IngestJobs:
    """Runs ingestion jobs as background tasks of the replica holding their lease, resumes
    the ones a dead replica left, and reports on them."""

    def __init__(
        self,
        state: PlatformState,
        settings: RetrievalSettings,
        documents: Documents,
        intents: WriteIntents,
    ) -> None:
        self._state = state
        self._sessions = state.sessions
        self._settings = settings
        self._documents = documents
        self._intents = intents
        self.leases = JobLeases(state.sessions, replica_id(), settings.job_lease_seconds)
        self._tasks: dict[asyncio.Task[None], tuple[str, str]] = {}
        self._started: set[str] = set()
        self._running = asyncio.Semaphore(settings.max_concurrent_jobs)
        self._heartbeat: asyncio.Task[None] | None = None

    @property
    def in_flight(self) -> int:
        """Jobs of this process queued or running."""
        return len(self._tasks)

    async def recover(self) -> None:
        """At start: remove what interrupted writes left, take over the jobs whose lease
        lapsed, and keep doing both (and renewing this replica's leases) in the background."""
        await self._intents.sweep()
        await self.take_over()
        self._heartbeat = asyncio.create_task(self._beat())

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self._settings.job_lease_seconds / 3)
            try:
                await self._renew()
                await self.take_over()
                await self._intents.sweep()
            except Exception:  # the database is away: try again at the next beat
                logger.exception("ingest job heartbeat failed")

    async def _renew(self) -> None:
        held = {job_id: task for task, (job_id, _) in self._tasks.items()}
        for job_id in await self.leases.renew(held):
            logger.warning("ingest job lease lost; stopping it here", extra={"job_id": job_id})
            held[job_id].cancel()

    async def take_over(self) -> int:
        """Resume (or fail, with the reason) every job whose lease lapsed; returns how many
        this replica took."""
        taken = await self.leases.claim_lapsed()
        running_here = {job_id for job_id, _ in self._tasks.values()}
        for job_id in taken:
            if job_id in running_here:  # a late heartbeat: the lease is simply renewed
                continue
            try:
                await self._resume(job_id)
            except LeaseLost:
                pass
            except Exception:
                logger.exception("could not resume ingest job", extra={"job_id": job_id})
                failed = _Progress(0)
                failed.fail("job_failed", INTERNAL_FAILURE)
                await self._save(job_id, failed, "failed", finished=True)
        return len(taken)

    async def _resume(self, job_id: str) -> None:
        async with self._sessions() as session:
            row = await session.get(IngestJobRow, job_id)
            stored = await session.get(IngestJobInputRow, job_id)
            kb = None if row is None else await session.get(KnowledgeBaseRow, row.kb_id)
        if row is None or kb is None:
            return
        progress = _Progress(row.total)
        progress.succeeded, progress.errors = row.succeeded, list(row.errors)
        principal = await self._state.authenticator.principal_by_id(row.principal_id)
        if row.attempts >= self._settings.job_max_attempts:
            progress.fail(
                "job_interrupted",
                f"The job was interrupted {row.attempts} times (retrieval.job_max_attempts); "
                "documents ingested before are kept. Submit the rest again.",
            )
        elif stored is None:
            progress.fail(
                "job_interrupted",
                "The job was interrupted by a restart and its documents were not stored "
                "(it was started by an older version); submit it again.",
            )
        elif principal is None:
            progress.fail(
                "job_interrupted",
                "The job was interrupted and the account that started it is disabled or "
                "gone, so it cannot be resumed.",
            )
        else:
            documents = [DocumentIn.model_validate(item) for item in stored.documents]
            logger.info("resuming ingest job", extra={"job_id": job_id})
            self._launch(job_id, principal, kb, documents)
            return
        await self._save(job_id, progress, "failed", finished=True)

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
            attempts=0,
            **self.leases.new_lease(),
        )
        stored = IngestJobInputRow(
            job_id=row.id,
            documents=[item.model_dump(mode="json", exclude_none=True) for item in documents],
        )
        async with self._sessions.begin() as session:
            session.add(row)
            await session.flush()
            session.add(stored)
        self._launch(row.id, principal, kb, documents)
        return to_job(row)

    def _launch(
        self,
        job_id: str,
        principal: Principal,
        kb: KnowledgeBaseRow,
        documents: Sequence[DocumentIn],
    ) -> None:
        task = asyncio.create_task(self._run(_Run(job_id, principal, kb, documents)))
        self._tasks[task] = (job_id, kb.id)
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        job_id, _ = self._tasks.pop(task, ("", ""))
        self._started.discard(job_id)

    async def _run(self, run: _Run) -> None:
        async with self._running:
            try:
                await self._run_now(run)
            except LeaseLost:
                logger.warning("ingest job taken over elsewhere", extra={"job_id": run.job_id})

    async def _run_now(self, run: _Run) -> None:
        job_id, documents = run.job_id, run.documents
        await self._begin_attempt(job_id)
        progress = _Progress(len(documents))
        self._started.add(job_id)

        async def report(index: int, outcome: Outcome) -> None:
            progress.record(index, outcome)
            if isinstance(outcome, PlatformError) and documents[index].id:
                progress.errors[-1]["document_id"] = documents[index].id
            if time.monotonic() - progress.saved_at > SAVE_EVERY_SECONDS:
                await self._save(job_id, progress, "running")

        try:
            await self._documents.run(
                run.principal, run.kb, self._documents.prepared_lazily(run.kb, documents), report
            )
        except Exception as exc:
            if _lost(exc):
                raise LeaseLost from None
            logger.exception("ingest job failed", extra={"job_id": job_id})
            progress.fail(
                "job_failed", exc.message if isinstance(exc, PlatformError) else INTERNAL_FAILURE
            )
            await self._save(job_id, progress, "failed", finished=True)
            return
        await self._save(job_id, progress, progress.status, finished=True)

    async def _begin_attempt(self, job_id: str) -> None:
        """Mark the job running, counting the attempt; raises LeaseLost if not ours."""
        async with self._sessions.begin() as session:
            started = await session.execute(
                self.leases.held(job_id).values(
                    status="running", attempts=IngestJobRow.attempts + 1, updated_at=utcnow()
                )
            )
            if started.rowcount != 1:  # type: ignore[attr-defined]
                raise LeaseLost

    async def _save(
        self, job_id: str, progress: _Progress, status: str, *, finished: bool = False
    ) -> None:
        """Record progress while this replica holds the job (LeaseLost otherwise); the end
        of the job deletes its stored documents in the same transaction."""
        progress.saved_at = time.monotonic()
        now = utcnow()
        async with self._sessions.begin() as session:
            saved = await session.execute(
                self.leases.held(job_id).values(
                    status=status,
                    succeeded=progress.succeeded,
                    failed=len(progress.errors),
                    errors=sorted(progress.errors, key=lambda e: int(e["index"])),
                    updated_at=now,
                    finished_at=now if finished else None,
                    lease_expires_at=None if finished else IngestJobRow.lease_expires_at,
                )
            )
            if saved.rowcount != 1:  # type: ignore[attr-defined]
                raise LeaseLost
            if finished:
                await session.execute(
                    delete(IngestJobInputRow).where(IngestJobInputRow.job_id == job_id)
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
        tasks = [task for task, (_, owner) in self._tasks.items() if kb_id in (None, owner)]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def aclose(self) -> None:
        """A clean stop: stop the heartbeat and the jobs, and give their leases back."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
        held = [job_id for job_id, _ in self._tasks.values()]
        started = set(self._started)
        await self.cancel()
        if held:
            try:
                await self.leases.release(held, started)
            except Exception:  # their leases lapse on their own
                logger.exception("could not give back ingest job leases")
