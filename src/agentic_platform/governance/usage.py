"""Queries over the usage ledger: records, totals by day, model, principal or team, CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentic_platform.auth.principal import Principal
from agentic_platform.governance.enforcement import WindowSpend, window_starts
from agentic_platform.governance.models import UsageRow
from agentic_platform.governance.schemas import (
    GroupBy,
    UsageRecordOut,
    UsageRecords,
    UsageSummary,
    UsageTotal,
)


class UsageFilter:
    """Time range and who/what; a non-admin caller is always narrowed to themselves."""

    def __init__(
        self,
        caller: Principal,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        principal_id: str | None = None,
        team_id: str | None = None,
        model: str | None = None,
    ) -> None:
        self.start = start
        self.end = end
        self.principal_id = principal_id if caller.is_admin else caller.id
        self.team_id = team_id if caller.is_admin else None
        self.model = model

    def apply(self, query: Select[Any]) -> Select[Any]:
        if self.start is not None:
            query = query.where(UsageRow.time >= self.start)
        if self.end is not None:
            query = query.where(UsageRow.time < self.end)
        if self.principal_id is not None:
            query = query.where(UsageRow.principal_id == self.principal_id)
        if self.team_id is not None:
            query = query.where(UsageRow.team_id == self.team_id)
        if self.model is not None:
            query = query.where(UsageRow.model == self.model)
        return query


class UsageReports:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def records(self, where: UsageFilter, limit: int, offset: int) -> UsageRecords:
        query = where.apply(select(UsageRow)).order_by(UsageRow.time, UsageRow.request_id)
        async with self._sessions() as session:
            rows = (await session.execute(query.limit(limit + 1).offset(offset))).scalars().all()
        more = len(rows) > limit
        return UsageRecords(
            records=[UsageRecordOut.model_validate(row) for row in rows[:limit]],
            next_offset=offset + limit if more else None,
        )

    async def totals(self, where: UsageFilter, group_by: GroupBy) -> UsageSummary:
        dialect = self._sessions.kw["bind"].dialect.name
        group = {
            "day": _utc_day(dialect),
            "model": UsageRow.model,
            "principal": UsageRow.principal_id,
            "team": UsageRow.team_id,
        }[group_by]
        query = (
            where.apply(
                select(
                    group.label("group"),
                    func.count(),
                    func.sum(case((UsageRow.status >= 400, 1), else_=0)),
                    func.sum(UsageRow.input_tokens),
                    func.sum(UsageRow.output_tokens),
                    func.sum(UsageRow.cached_tokens),
                    func.sum(UsageRow.cost_usd),
                )
            )
            .group_by(group)
            .order_by(group)
        )
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        totals = [
            UsageTotal(
                group=str(row[0]),
                requests=int(row[1]),
                errors=int(row[2] or 0),
                input_tokens=int(row[3] or 0),
                output_tokens=int(row[4] or 0),
                cached_tokens=int(row[5] or 0),
                cost_usd=round(float(row[6] or 0.0), 9),
            )
            for row in rows
        ]
        return UsageSummary(group_by=group_by, start=where.start, end=where.end, totals=totals)


async def open_window_spend(
    sessions: async_sessionmaker[AsyncSession], now: float
) -> list[WindowSpend]:
    """What the ledger holds for the windows open at ``now`` (the UTC month, day and minute),
    by principal, key, team and model, in one aggregate query over the month's rows. Calls
    refused at admission (403, 429) charged no counter and are not counted."""
    month, day, minute = window_starts(now)
    admitted = UsageRow.status.not_in((403, 429))
    this_minute = (UsageRow.time >= minute) & admitted

    def total(column: Any, when: Any) -> Any:
        return func.coalesce(func.sum(case((when, column), else_=0)), 0)

    query = (
        select(
            UsageRow.principal_id,
            UsageRow.key_id,
            UsageRow.team_id,
            UsageRow.model,
            func.coalesce(func.sum(UsageRow.cost_usd), 0.0),
            total(UsageRow.cost_usd, UsageRow.time >= day),
            total(1, this_minute),
            total(UsageRow.input_tokens, this_minute),
            total(UsageRow.output_tokens, this_minute),
        )
        .where(UsageRow.time >= month)
        .group_by(UsageRow.principal_id, UsageRow.key_id, UsageRow.team_id, UsageRow.model)
    )
    async with sessions() as session:
        rows = (await session.execute(query)).all()
    return [
        WindowSpend(
            row[0], row[1], row[2], row[3], float(row[4]), float(row[5]), *map(int, row[6:])
        )
        for row in rows
    ]


def _utc_day(dialect: str) -> Any:
    """The UTC calendar day of a record, as YYYY-MM-DD, whatever the session's time zone."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", UsageRow.time), "YYYY-MM-DD")
    return func.substr(UsageRow.time, 1, 10)  # SQLite stores UTC text


def to_csv(header: list[str], rows: Iterable[Iterable[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if value is None else value for value in row])
    return buffer.getvalue()
