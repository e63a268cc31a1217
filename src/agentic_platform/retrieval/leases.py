"""Which replica runs which ingestion job: leases in the job rows.

A job row names its ``owner`` (a replica id, new for every process) and when its lease
ends. The owner renews the leases of the jobs it runs; another replica takes a job over only
once its lease has lapsed, with one conditional ``UPDATE … WHERE lease_expires_at < now``,
so two replicas never both take one. An owner that finds its lease gone (taken over after
it stalled, or the job deleted with its knowledge base) stops the job.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentic_platform.db.base import utcnow
from agentic_platform.retrieval.models import IngestJobRow

UNFINISHED = ("queued", "running")
CLAIMS_PER_ROUND = 100


def replica_id() -> str:
    """This process, as job rows name it: the host, the process id and a random part."""
    return f"{socket.gethostname()[:60]}-{os.getpid()}-{secrets.token_hex(4)}"


class JobLeases:
    """Takes, renews and gives back the leases of this replica's jobs."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], replica: str, lease_seconds: float
    ) -> None:
        self._sessions = sessions
        self.replica = replica
        self._lease = timedelta(seconds=lease_seconds)

    def new_lease(self) -> dict[str, Any]:
        """The columns of a job this replica has just accepted."""
        return {"owner": self.replica, "lease_expires_at": utcnow() + self._lease}

    async def claim_lapsed(self) -> list[str]:
        """Take every unfinished job whose lease has lapsed; returns the ids taken here."""
        now = utcnow()
        lapsed = or_(IngestJobRow.lease_expires_at.is_(None), IngestJobRow.lease_expires_at < now)
        async with self._sessions() as session:
            candidates = (
                await session.execute(
                    select(IngestJobRow.id)
                    .where(IngestJobRow.status.in_(UNFINISHED), lapsed)
                    .order_by(IngestJobRow.created_at)
                    .limit(CLAIMS_PER_ROUND)
                )
            ).scalars()
            job_ids = list(candidates)
        taken = []
        for job_id in job_ids:
            async with self._sessions.begin() as session:
                claimed = await session.execute(
                    update(IngestJobRow)
                    .where(IngestJobRow.id == job_id, IngestJobRow.status.in_(UNFINISHED), lapsed)
                    .values(owner=self.replica, lease_expires_at=now + self._lease)
                )
            if claimed.rowcount == 1:  # type: ignore[attr-defined]
                taken.append(job_id)
        return taken

    async def renew(self, job_ids: Iterable[str]) -> set[str]:
        """Extend the leases of these jobs; returns the ones this replica no longer holds."""
        lost = set()
        until = utcnow() + self._lease
        async with self._sessions.begin() as session:
            for job_id in job_ids:
                renewed = await session.execute(
                    self.held(job_id)
                    .values(lease_expires_at=until)
                    .execution_options(synchronize_session=False)
                )
                if renewed.rowcount != 1:  # type: ignore[attr-defined]
                    lost.add(job_id)
        return lost

    async def release(self, job_ids: Iterable[str], started: set[str]) -> None:
        """A clean stop: end the leases now so another replica resumes the jobs at once;
        a run cut short this way does not count as an attempt."""
        now = utcnow()
        async with self._sessions.begin() as session:
            for job_id in job_ids:
                attempts = IngestJobRow.attempts - (1 if job_id in started else 0)
                await session.execute(
                    self.held(job_id).values(lease_expires_at=now, attempts=attempts)
                )

    def held(self, job_id: str) -> Any:
        """An ``UPDATE`` of the job that matches only while this replica holds it."""
        return update(IngestJobRow).where(
            IngestJobRow.id == job_id,
            IngestJobRow.owner == self.replica,
            IngestJobRow.status.in_(UNFINISHED),
        )
