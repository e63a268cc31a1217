"""The admin directory: keys, principals, teams and plans, with who-may-see-what rules.

Admins see and manage everything. Anyone else sees and manages only their own keys, and
only within the limits of the key it signed in with (``governance/delegation.py``); it
never attaches a plan. Every write bumps ``updated_at``, which is how the change feed tells
every replica.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentic_platform.auth.keys import display_prefix, hash_key, new_id, new_key_secret
from agentic_platform.auth.models import ApiKeyRow, PrincipalRow, TeamRow
from agentic_platform.auth.principal import Principal
from agentic_platform.db.base import Base, utcnow
from agentic_platform.errors import ConflictError, NotFoundError, PermissionDeniedError
from agentic_platform.governance import schemas
from agentic_platform.governance.delegation import KeyLimits, check_within, refuse_own_plan
from agentic_platform.governance.models import PlanRow

Row = TypeVar("Row", bound=Base)


def require_admin(caller: Principal) -> None:
    if not caller.may_administer:
        raise PermissionDeniedError("Only admins may do this.", code="admin_required")


class AdminDirectory:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    # --- keys --------------------------------------------------------------------------

    async def create_key(self, caller: Principal, spec: schemas.KeyCreate) -> schemas.KeyCreated:
        owner_id = spec.principal_id or caller.id
        if owner_id != caller.id or spec.plan_id is not None:
            require_admin(caller)
        allowed_models = spec.allowed_models
        expires_at = spec.expires_at
        if spec.expires_in_days is not None:
            expires_at = utcnow() + timedelta(days=spec.expires_in_days)
        secret = new_key_secret()
        async with self._sessions() as session, session.begin():
            await self._get(session, PrincipalRow, owner_id, "principal")
            if spec.plan_id is not None:
                await self._get(session, PlanRow, spec.plan_id, "plan")
            if not caller.may_administer:
                bound = KeyLimits.of(await _signed_in_key(session, caller))
                refuse_own_plan(bound, "create keys")
                if allowed_models is None and bound.allowed_models is not None:
                    allowed_models = list(bound.allowed_models)
                expires_at = expires_at or bound.expires_at
                check_within(KeyLimits(allowed_models, expires_at), [bound])
            row = ApiKeyRow(
                id=new_id("key"),
                principal_id=owner_id,
                name=spec.name,
                description=spec.description,
                prefix=display_prefix(secret),
                secret_hash=hash_key(secret),
                allowed_models=allowed_models,
                expires_at=expires_at,
                plan_id=spec.plan_id,
            )
            session.add(row)
        return schemas.KeyCreated(**_key_fields(row), secret=secret)

    async def list_keys(
        self, caller: Principal, principal_id: str | None, include_revoked: bool
    ) -> list[schemas.KeyOut]:
        query = select(ApiKeyRow).order_by(ApiKeyRow.created_at)
        if not caller.may_administer:
            query = query.where(ApiKeyRow.principal_id == caller.id)
        elif principal_id is not None:
            query = query.where(ApiKeyRow.principal_id == principal_id)
        if not include_revoked:
            query = query.where(ApiKeyRow.revoked_at.is_(None))
        async with self._sessions() as session:
            rows = (await session.execute(query)).scalars().all()
        return [schemas.KeyOut.model_validate(row) for row in rows]

    async def get_key(self, caller: Principal, key_id: str) -> schemas.KeyOut:
        async with self._sessions() as session:
            row = await self._own_key(session, caller, key_id)
        return schemas.KeyOut.model_validate(row)

    async def update_key(
        self, caller: Principal, key_id: str, change: schemas.KeyUpdate
    ) -> schemas.KeyOut:
        fields = change.model_dump(exclude_unset=True)
        if "plan_id" in fields:
            require_admin(caller)
        async with self._sessions() as session, session.begin():
            row = await self._own_key(session, caller, key_id)
            if fields.get("plan_id") is not None:
                await self._get(session, PlanRow, fields["plan_id"], "plan")
            if not caller.may_administer and fields.keys() & {"allowed_models", "expires_at"}:
                changed = KeyLimits(
                    fields.get("allowed_models", row.allowed_models),
                    fields.get("expires_at", row.expires_at),
                )
                signed_in = KeyLimits.of(await _signed_in_key(session, caller))
                check_within(changed, [KeyLimits.of(row), signed_in])
            _apply(row, fields)
        return schemas.KeyOut.model_validate(row)

    async def revoke_key(self, caller: Principal, key_id: str) -> schemas.KeyOut:
        async with self._sessions() as session, session.begin():
            row = await self._own_key(session, caller, key_id)
            if row.revoked_at is None:
                _apply(row, {"revoked_at": utcnow()})
        return schemas.KeyOut.model_validate(row)

    async def rotate_key(
        self, caller: Principal, key_id: str, rotate: schemas.KeyRotate
    ) -> schemas.KeyCreated:
        """A new secret with the old key's settings; the old one stops now or after a grace
        period (as an expiry)."""
        secret = new_key_secret()
        async with self._sessions() as session, session.begin():
            old = await self._own_key(session, caller, key_id)
            if old.revoked_at is not None:
                raise ConflictError("A revoked key cannot be rotated; create a new one.")
            if not caller.may_administer:
                refuse_own_plan(KeyLimits.of(old), "be rotated except by an admin")
                check_within(
                    KeyLimits.of(old), [KeyLimits.of(await _signed_in_key(session, caller))]
                )
            new = ApiKeyRow(
                id=new_id("key"),
                principal_id=old.principal_id,
                name=old.name,
                description=old.description,
                prefix=display_prefix(secret),
                secret_hash=hash_key(secret),
                allowed_models=old.allowed_models,
                expires_at=old.expires_at,
                plan_id=old.plan_id,
            )
            session.add(new)
            if rotate.grace_seconds:
                ends = utcnow() + timedelta(seconds=rotate.grace_seconds)
                if old.expires_at is None or old.expires_at > ends:
                    _apply(old, {"expires_at": ends})
            else:
                _apply(old, {"revoked_at": utcnow()})
        return schemas.KeyCreated(**_key_fields(new), secret=secret)

    async def _own_key(self, session: AsyncSession, caller: Principal, key_id: str) -> ApiKeyRow:
        row = await session.get(ApiKeyRow, key_id)
        if row is None or (not caller.may_administer and row.principal_id != caller.id):
            raise NotFoundError(f"No API key '{key_id}'.", param="key_id")
        return row

    # --- principals, teams, plans --------------------------------------------------------

    async def create(self, caller: Principal, table: type[Row], fields: dict[str, Any]) -> Row:
        require_admin(caller)
        prefix = {PrincipalRow: "usr", TeamRow: "team", PlanRow: "plan"}[table]
        if table is PrincipalRow:
            if fields.get("team_id") is None:
                fields["team_id"] = caller.team_id
            if fields.get("kind") == "service":
                prefix = "svc"
        row = table(id=new_id(prefix), **fields)
        try:
            async with self._sessions() as session, session.begin():
                await self._check_references(session, fields)
                session.add(row)
        except IntegrityError:
            raise ConflictError(
                f"A {_noun(table)} with that name already exists.", param="name"
            ) from None
        return row

    async def update(
        self, caller: Principal, table: type[Row], row_id: str, fields: dict[str, Any]
    ) -> Row:
        require_admin(caller)
        try:
            async with self._sessions() as session, session.begin():
                row = await self._get(session, table, row_id, _noun(table))
                await self._check_references(session, fields)
                _apply(row, fields)
        except IntegrityError:
            raise ConflictError(
                f"A {_noun(table)} with that name already exists.", param="name"
            ) from None
        return row

    async def get(self, caller: Principal, table: type[Row], row_id: str) -> Row:
        if table is not PrincipalRow or row_id != caller.id:
            require_admin(caller)
        async with self._sessions() as session:
            return await self._get(session, table, row_id, _noun(table))

    async def list(self, caller: Principal, table: type[Row]) -> list[Row]:
        require_admin(caller)
        async with self._sessions() as session:
            return list((await session.execute(select(table))).scalars().all())

    async def get_plan_row(self, plan_id: str) -> PlanRow:
        async with self._sessions() as session:
            return await self._get(session, PlanRow, plan_id, "plan")

    async def delete_plan(self, caller: Principal, plan_id: str) -> None:
        require_admin(caller)
        async with self._sessions() as session, session.begin():
            plan = await self._get(session, PlanRow, plan_id, "plan")
            for table in (ApiKeyRow, PrincipalRow, TeamRow):
                attached = await session.execute(
                    select(table.id).where(table.plan_id == plan_id).limit(1)
                )
                if attached.first() is not None:
                    raise ConflictError(
                        f"The plan '{plan.name}' is still attached to a {_noun(table)}: "
                        "detach it first."
                    )
            await session.delete(plan)

    async def _check_references(self, session: AsyncSession, fields: dict[str, Any]) -> None:
        if fields.get("plan_id") is not None:
            await self._get(session, PlanRow, fields["plan_id"], "plan")
        if fields.get("team_id") is not None:
            await self._get(session, TeamRow, fields["team_id"], "team")

    @staticmethod
    async def _get(session: AsyncSession, table: type[Row], row_id: str, noun: str) -> Row:
        row = await session.get(table, row_id)
        if row is None:
            raise NotFoundError(f"No {noun} '{row_id}'.", param=f"{noun}_id")
        return row


async def _signed_in_key(session: AsyncSession, caller: Principal) -> ApiKeyRow | None:
    """The key the caller signed in with (None for an OIDC token)."""
    return await session.get(ApiKeyRow, caller.key_id) if caller.key_id is not None else None


def _apply(row: Base, fields: dict[str, Any]) -> None:
    for name, value in fields.items():
        setattr(row, name, value)
    row.updated_at = utcnow()  # type: ignore[attr-defined]


def _noun(table: type[Base]) -> str:
    return {PrincipalRow: "principal", TeamRow: "team", PlanRow: "plan", ApiKeyRow: "key"}[table]


def _key_fields(row: ApiKeyRow) -> dict[str, Any]:
    return schemas.KeyOut.model_validate(row).model_dump()
