"""Run records: written as runs start and end, read back scoped to the caller.

A caller sees their own runs; an admin sees everyone's (and may ask for one user's). Someone
else's run is reported missing (404), never forbidden, so run ids cannot be probed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentic_platform.agents.context import RunContext
from agentic_platform.agents.events import Usage
from agentic_platform.agents.models import RunRow, RunStepRow
from agentic_platform.agents.schemas import (
    RunDetail,
    RunRecordOut,
    RunStatus,
    RunStepOut,
)
from agentic_platform.auth.principal import Principal
from agentic_platform.errors import NotFoundError, PermissionDeniedError, PlatformError

DETAIL_CHARS = 4000


def _cut(text: str) -> str:
    return text if len(text) <= DETAIL_CHARS else text[:DETAIL_CHARS] + "…"


class RunStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def started(self, ctx: RunContext, started_at: datetime) -> None:
        user = ctx.principal
        async with self._sessions() as db, db.begin():
            db.add(
                RunRow(
                    id=ctx.run_id,
                    principal_id=user.id,
                    team_id=user.team_id,
                    acting_via=user.acting_via,
                    agent=ctx.agent,
                    session_id=ctx.session_id,
                    status="running",
                    model=ctx.model,
                    metadata_=ctx.metadata,
                    started_at=started_at,
                    trace_id=ctx.trace_id,
                )
            )

    async def finished(
        self, ctx: RunContext, status: RunStatus, error: PlatformError | None, duration_ms: float
    ) -> None:
        """Complete the run's row and write its steps, in one transaction."""
        async with self._sessions() as db, db.begin():
            await db.execute(
                update(RunRow)
                .where(RunRow.id == ctx.run_id)
                .values(
                    status=status,
                    error_code=error.code if error else None,
                    error=error.message if error else None,
                    prompt_tokens=ctx.usage.prompt_tokens,
                    completion_tokens=ctx.usage.completion_tokens,
                    cost_usd=ctx.cost_usd,
                    model_calls=ctx.model_calls,
                    tool_calls=len(ctx.tool_calls),
                    finished_at=datetime.now(UTC),
                    duration_ms=duration_ms,
                )
            )
            db.add_all(_step_rows(ctx))

    async def list(
        self,
        caller: Principal,
        *,
        user_id: str | None,
        agent: str | None,
        status: RunStatus | None,
        session_id: str | None,
        limit: int,
        offset: int,
    ) -> tuple[list[RunRecordOut], bool]:
        query = select(RunRow)
        owner = _owner(caller, user_id)
        if owner is not None:
            query = query.where(RunRow.principal_id == owner)
        if agent is not None:
            query = query.where(RunRow.agent == agent)
        if status is not None:
            query = query.where(RunRow.status == status)
        if session_id is not None:
            query = query.where(RunRow.session_id == session_id)
        query = query.order_by(RunRow.started_at.desc(), RunRow.id.desc())
        async with self._sessions() as db:
            rows = (await db.scalars(query.limit(limit + 1).offset(offset))).all()
        return [_record(row) for row in rows[:limit]], len(rows) > limit

    async def get(self, caller: Principal, run_id: str) -> RunDetail:
        async with self._sessions() as db:
            row = await db.get(RunRow, run_id)
            if row is None or not (caller.is_admin or row.principal_id == caller.id):
                raise NotFoundError(f"No run '{run_id}'.", code="run_not_found", param="run_id")
            steps = (
                await db.scalars(
                    select(RunStepRow)
                    .where(RunStepRow.run_id == run_id)
                    .order_by(RunStepRow.position)
                )
            ).all()
        record = _record(row)
        return RunDetail(**record.model_dump(), steps=[_step(step) for step in steps])


def _owner(caller: Principal, user_id: str | None) -> str | None:
    """Whose runs a listing shows: the caller's; an admin's choice (None: everyone's)."""
    if caller.is_admin:
        return user_id
    if user_id is not None and user_id != caller.id:
        raise PermissionDeniedError(
            "Only admins may list another user's runs.", param="user_id", code="admin_required"
        )
    return caller.id


def _step_rows(ctx: RunContext) -> list[RunStepRow]:
    calls = iter(ctx.tool_calls)
    rows = []
    for step in ctx.steps:
        detail: dict[str, Any] = {}
        if step.kind == "tool":
            call = next(calls, None)
            if call is not None:
                detail = {
                    "call_id": call.call_id,
                    "arguments": _cut(call.arguments),
                    "result": _cut(call.result),
                    "is_error": call.is_error,
                }
        rows.append(
            RunStepRow(
                run_id=ctx.run_id,
                position=step.index,
                kind=step.kind,
                name=step.name[:200],
                started_at=step.started_at,
                duration_ms=step.duration_ms,
                prompt_tokens=step.usage.prompt_tokens,
                completion_tokens=step.usage.completion_tokens,
                cost_usd=step.cost_usd,
                error=step.error,
                detail=detail,
            )
        )
    return rows


def _usage(prompt_tokens: int, completion_tokens: int) -> Usage:
    usage = Usage()
    usage.add(prompt_tokens, completion_tokens)
    return usage


def _record(row: RunRow) -> RunRecordOut:
    return RunRecordOut(
        id=row.id,
        agent=row.agent,
        user_id=row.principal_id,
        team_id=row.team_id,
        acting_via=row.acting_via,
        session_id=row.session_id,
        status=row.status,
        error_code=row.error_code,
        error=row.error,
        model=row.model,
        usage=_usage(row.prompt_tokens, row.completion_tokens),
        cost_usd=row.cost_usd,
        model_calls=row.model_calls,
        tool_calls=row.tool_calls,
        metadata=row.metadata_ or {},
        started_at=row.started_at,
        finished_at=row.finished_at,
        duration_ms=row.duration_ms,
        trace_id=row.trace_id,
    )


def _step(row: RunStepRow) -> RunStepOut:
    return RunStepOut(
        index=row.position,
        kind=row.kind,
        name=row.name,
        started_at=row.started_at,
        duration_ms=row.duration_ms,
        usage=_usage(row.prompt_tokens, row.completion_tokens),
        cost_usd=row.cost_usd,
        error=row.error,
        detail=row.detail or {},
    )
