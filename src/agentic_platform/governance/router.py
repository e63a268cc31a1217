"""The admin API under ``/admin/v1``: keys, principals, teams, plans and usage."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from agentic_platform.auth.models import PrincipalRow, TeamRow
from agentic_platform.auth.principal import Principal
from agentic_platform.dependencies import ACT_AS_HEADER, current_principal, platform
from agentic_platform.errors import PermissionDeniedError
from agentic_platform.governance import examples, schemas
from agentic_platform.governance.models import PlanRow
from agentic_platform.governance.plans import plan_from_row
from agentic_platform.governance.service import AdminDirectory
from agentic_platform.governance.usage import UsageFilter, UsageReports, to_csv

router = APIRouter(prefix="/admin/v1", tags=["admin"])


async def own_caller(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    """The caller of a route that changes or lists identities: never a service acting for
    someone (it would act with the user's keys, or an admin's rights, it does not hold)."""
    if principal.acting_via is not None:
        raise PermissionDeniedError(
            f"{ACT_AS_HEADER} is accepted on /admin/v1 only by GET /me and the usage reports: "
            "manage keys, principals, teams and plans with the service's own key.",
            code="act_as_not_allowed",
        )
    return principal


async def viewing_caller(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    """The caller of a read-only route (``/me``, usage): a service acting for a user sees what
    the user sees, and an admin's view only if the service is an admin too."""
    if principal.is_admin and not principal.may_administer:
        return replace(principal, roles=principal.roles - {"admin"})
    return principal


Caller = Annotated[Principal, Depends(own_caller)]
Viewer = Annotated[Principal, Depends(viewing_caller)]


def directory(request: Request) -> AdminDirectory:
    return AdminDirectory(platform(request).sessions)


def reports(request: Request) -> UsageReports:
    return UsageReports(platform(request).sessions)


Directory = Annotated[AdminDirectory, Depends(directory)]
Reports = Annotated[UsageReports, Depends(reports)]


# --- keys ------------------------------------------------------------------------------


@router.post("/keys", status_code=201, response_model=schemas.KeyCreated)
async def create_key(
    spec: Annotated[schemas.KeyCreate, examples.KEY], caller: Caller, admin: Directory
) -> schemas.KeyCreated:
    """Create an API key. The secret is in this response only; store it now."""
    return await admin.create_key(caller, spec)


@router.get("/keys", response_model=list[schemas.KeyOut])
async def list_keys(
    caller: Caller,
    admin: Directory,
    principal_id: str | None = None,
    include_revoked: bool = False,
) -> list[schemas.KeyOut]:
    """Admins list every key (or one principal's); others list their own."""
    return await admin.list_keys(caller, principal_id, include_revoked)


@router.get("/keys/{key_id}", response_model=schemas.KeyOut)
async def get_key(key_id: str, caller: Caller, admin: Directory) -> schemas.KeyOut:
    return await admin.get_key(caller, key_id)


@router.patch("/keys/{key_id}", response_model=schemas.KeyOut)
async def update_key(
    key_id: str,
    change: Annotated[schemas.KeyUpdate, examples.KEY_UPDATE],
    caller: Caller,
    admin: Directory,
) -> schemas.KeyOut:
    return await admin.update_key(caller, key_id, change)


@router.post("/keys/{key_id}/revoke", response_model=schemas.KeyOut)
async def revoke_key(key_id: str, caller: Caller, admin: Directory) -> schemas.KeyOut:
    """Revoke a key; every replica refuses it within a second."""
    return await admin.revoke_key(caller, key_id)


@router.post("/keys/{key_id}/rotate", status_code=201, response_model=schemas.KeyCreated)
async def rotate_key(
    key_id: str, caller: Caller, admin: Directory, rotate: schemas.KeyRotate | None = None
) -> schemas.KeyCreated:
    """Issue a new secret with the same settings; the old key stops now or after a grace."""
    return await admin.rotate_key(caller, key_id, rotate or schemas.KeyRotate())


# --- principals and teams ----------------------------------------------------------------


@router.get("/me", response_model=schemas.Me)
async def me(request: Request, caller: Viewer, admin: Directory) -> schemas.Me:
    """Who the caller is, and the plans in force for them."""
    row = await admin.get(caller, PrincipalRow, caller.id)
    plans = platform(request).metering
    applied = await plans.governor.plans.applied_to(caller) if plans else []
    return schemas.Me(
        principal=schemas.PrincipalOut.model_validate(row),
        key_id=caller.key_id,
        acting_via=caller.acting_via,
        plans=[_plan_out(a.plan.id, await admin.get_plan_row(a.plan.id)) for a in applied],
    )


@router.post("/principals", status_code=201, response_model=schemas.PrincipalOut)
async def create_principal(
    spec: Annotated[schemas.PrincipalCreate, examples.PRINCIPAL], caller: Caller, admin: Directory
) -> schemas.PrincipalOut:
    row = await admin.create(caller, PrincipalRow, spec.model_dump())
    return schemas.PrincipalOut.model_validate(row)


@router.get("/principals", response_model=list[schemas.PrincipalOut])
async def list_principals(caller: Caller, admin: Directory) -> list[schemas.PrincipalOut]:
    return [schemas.PrincipalOut.model_validate(r) for r in await admin.list(caller, PrincipalRow)]


@router.get("/principals/{principal_id}", response_model=schemas.PrincipalOut)
async def get_principal(
    principal_id: str, caller: Caller, admin: Directory
) -> schemas.PrincipalOut:
    return schemas.PrincipalOut.model_validate(await admin.get(caller, PrincipalRow, principal_id))


@router.patch("/principals/{principal_id}", response_model=schemas.PrincipalOut)
async def update_principal(
    principal_id: str,
    change: Annotated[schemas.PrincipalUpdate, examples.PRINCIPAL_UPDATE],
    caller: Caller,
    admin: Directory,
) -> schemas.PrincipalOut:
    row = await admin.update(
        caller, PrincipalRow, principal_id, change.model_dump(exclude_unset=True)
    )
    return schemas.PrincipalOut.model_validate(row)


@router.post("/teams", status_code=201, response_model=schemas.TeamOut)
async def create_team(
    spec: Annotated[schemas.TeamCreate, examples.TEAM], caller: Caller, admin: Directory
) -> schemas.TeamOut:
    return schemas.TeamOut.model_validate(await admin.create(caller, TeamRow, spec.model_dump()))


@router.get("/teams", response_model=list[schemas.TeamOut])
async def list_teams(caller: Caller, admin: Directory) -> list[schemas.TeamOut]:
    return [schemas.TeamOut.model_validate(r) for r in await admin.list(caller, TeamRow)]


@router.get("/teams/{team_id}", response_model=schemas.TeamOut)
async def get_team(team_id: str, caller: Caller, admin: Directory) -> schemas.TeamOut:
    return schemas.TeamOut.model_validate(await admin.get(caller, TeamRow, team_id))


@router.patch("/teams/{team_id}", response_model=schemas.TeamOut)
async def update_team(
    team_id: str,
    change: Annotated[schemas.TeamUpdate, examples.TEAM_UPDATE],
    caller: Caller,
    admin: Directory,
) -> schemas.TeamOut:
    row = await admin.update(caller, TeamRow, team_id, change.model_dump(exclude_unset=True))
    return schemas.TeamOut.model_validate(row)


# --- plans -----------------------------------------------------------------------------


def _plan_fields(spec: schemas.PlanFields, *, creating: bool) -> dict[str, object]:
    fields = spec.model_dump(exclude_unset=not creating, exclude_none=creating)
    if "model_overrides" in fields:
        overrides = spec.model_overrides or {}
        fields["model_overrides"] = {
            pattern: limits.model_dump(exclude_none=True) for pattern, limits in overrides.items()
        }
    return fields


def _plan_out(_plan_id: str, row: PlanRow) -> schemas.PlanOut:
    plan_from_row(row)  # the same conversion the request path uses: fails loudly if invalid
    return schemas.PlanOut.model_validate(row)


@router.post("/plans", status_code=201, response_model=schemas.PlanOut)
async def create_plan(
    spec: Annotated[schemas.PlanCreate, examples.PLAN], caller: Caller, admin: Directory
) -> schemas.PlanOut:
    row = await admin.create(caller, PlanRow, _plan_fields(spec, creating=True))
    return _plan_out(row.id, row)


@router.get("/plans", response_model=list[schemas.PlanOut])
async def list_plans(caller: Caller, admin: Directory) -> list[schemas.PlanOut]:
    return [_plan_out(r.id, r) for r in await admin.list(caller, PlanRow)]


@router.get("/plans/{plan_id}", response_model=schemas.PlanOut)
async def get_plan(plan_id: str, caller: Caller, admin: Directory) -> schemas.PlanOut:
    return _plan_out(plan_id, await admin.get(caller, PlanRow, plan_id))


@router.patch("/plans/{plan_id}", response_model=schemas.PlanOut)
async def update_plan(
    plan_id: str,
    change: Annotated[schemas.PlanUpdate, examples.PLAN_UPDATE],
    caller: Caller,
    admin: Directory,
) -> schemas.PlanOut:
    row = await admin.update(caller, PlanRow, plan_id, _plan_fields(change, creating=False))
    return _plan_out(plan_id, row)


@router.delete("/plans/{plan_id}", status_code=204)
async def delete_plan(plan_id: str, caller: Caller, admin: Directory) -> Response:
    await admin.delete_plan(caller, plan_id)
    return Response(status_code=204)


# --- usage -----------------------------------------------------------------------------

Format = Literal["json", "csv"]
CSV_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with `format=csv`."}
}


def usage_filter(
    caller: Viewer,
    start: Annotated[datetime | None, Query(description="From (inclusive), ISO 8601.")] = None,
    end: Annotated[datetime | None, Query(description="Until (exclusive), ISO 8601.")] = None,
    principal_id: str | None = None,
    team_id: str | None = None,
    model: str | None = None,
) -> UsageFilter:
    return UsageFilter(
        caller, start=start, end=end, principal_id=principal_id, team_id=team_id, model=model
    )


Filter = Annotated[UsageFilter, Depends(usage_filter)]


@router.get("/usage", response_model=schemas.UsageSummary, responses=CSV_ANSWER)
async def usage_totals(
    where: Filter,
    usage: Reports,
    group_by: schemas.GroupBy = "day",
    format: Format = "json",
) -> Response:
    """Totals by day, model, principal or team. Members see only their own usage."""
    summary = await usage.totals(where, group_by)
    if format == "csv":
        header = list(schemas.UsageTotal.model_fields)
        rows = ([getattr(t, name) for name in header] for t in summary.totals)
        return _csv(to_csv([group_by, *header[1:]], rows), f"usage-by-{group_by}.csv")
    return Response(summary.model_dump_json(), media_type="application/json")


@router.get("/usage/records", response_model=schemas.UsageRecords, responses=CSV_ANSWER)
async def usage_records(
    where: Filter,
    usage: Reports,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    format: Format = "json",
) -> Response:
    """One row per request, oldest first."""
    page = await usage.records(where, limit, offset)
    if format == "csv":
        header = list(schemas.UsageRecordOut.model_fields)
        rows = ([getattr(r, name) for name in header] for r in page.records)
        return _csv(to_csv(header, rows), "usage-records.csv")
    return Response(page.model_dump_json(), media_type="application/json")


def _csv(body: str, filename: str) -> Response:
    return Response(
        body,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
