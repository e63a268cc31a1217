"""Resolves API keys to principals and creates identities."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentic_platform.auth.keys import (
    KEY_PREFIX,
    display_prefix,
    hash_key,
    new_id,
    new_key_secret,
)
from agentic_platform.auth.models import ApiKeyRow, PrincipalRow, TeamRow
from agentic_platform.auth.principal import Principal, PrincipalKind, Role
from agentic_platform.db.base import utcnow
from agentic_platform.errors import AuthenticationError


@dataclass(frozen=True, slots=True)
class _CachedKey:
    principal: Principal
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A key just created: the only moment its secret exists outside the caller's hands."""

    id: str
    secret: str
    principal_id: str


class KeyAuthenticator:
    """Verified keys and principals stay cached until the change feed says they changed
    (``invalidate``), so a known key costs no database round trip; unknown keys are
    remembered as unknown for a second so a flood of bad keys cannot hammer the database."""

    NEGATIVE_SECONDS = 1.0

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._keys: dict[str, _CachedKey] = {}
        self._keys_by_id: dict[str, _CachedKey] = {}
        self._unknown: dict[str, float] = {}
        self._principals: dict[str, Principal | None] = {}

    async def authenticate(self, secret: str) -> Principal:
        if not secret.startswith(KEY_PREFIX):
            raise AuthenticationError("Invalid API key: it is not a key issued by this platform.")
        digest = hash_key(secret)
        cached = self._keys.get(digest)
        if cached is None:
            if self._unknown.get(digest, 0.0) > time.monotonic():
                raise AuthenticationError("Invalid API key.")
            cached = await self._load(ApiKeyRow.secret_hash == digest, digest)
        if cached.expires_at is not None and cached.expires_at <= utcnow():
            raise AuthenticationError("The API key has expired.", code="expired_api_key")
        return cached.principal

    async def key_by_id(self, key_id: str) -> Principal:
        """The principal an API key signs in as, found by the key's id (for a user's key
        carried along by a platform service); refused like the key itself would be."""
        cached = self._keys_by_id.get(key_id)
        if cached is None:
            cached = await self._load(ApiKeyRow.id == key_id)
        if cached.expires_at is not None and cached.expires_at <= utcnow():
            raise AuthenticationError("The API key has expired.", code="expired_api_key")
        return cached.principal

    async def principal_by_id(self, principal_id: str) -> Principal | None:
        """A principal by id (cached like keys), or None if unknown or disabled."""
        if principal_id in self._principals:
            return self._principals[principal_id]
        async with self._sessions() as session:
            row = await session.get(PrincipalRow, principal_id)
        principal = None if row is None or row.disabled else to_principal(row, key_id=None)
        self._principals[principal_id] = principal
        return principal

    async def invalidate(self, key_ids: set[str], principal_ids: set[str]) -> None:
        """Forget what changed (called by the change feed)."""
        self._keys = {
            digest: entry
            for digest, entry in self._keys.items()
            if entry.principal.key_id not in key_ids and entry.principal.id not in principal_ids
        }
        self._keys_by_id = {
            key_id: entry
            for key_id, entry in self._keys_by_id.items()
            if key_id not in key_ids and entry.principal.id not in principal_ids
        }
        for principal_id in principal_ids:
            self._principals.pop(principal_id, None)
        self._unknown.clear()

    async def _load(self, which: ColumnElement[bool], digest: str | None = None) -> _CachedKey:
        """The key ``which`` selects (by digest when ``digest`` is given, else by id)."""
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(ApiKeyRow, PrincipalRow)
                    .join(PrincipalRow, PrincipalRow.id == ApiKeyRow.principal_id)
                    .where(which)
                )
            ).first()
        if row is None:
            if digest is None:
                raise AuthenticationError("The API key the call was made with is unknown.")
            self._unknown[digest] = time.monotonic() + self.NEGATIVE_SECONDS
            if len(self._unknown) > 10_000:
                self._unknown.clear()
            raise AuthenticationError("Invalid API key.")
        key, owner = row
        if key.revoked_at is not None:
            raise AuthenticationError("The API key has been revoked.", code="revoked_api_key")
        if owner.disabled:
            raise AuthenticationError(
                "The account this API key belongs to is disabled.", code="account_disabled"
            )
        principal = replace(
            to_principal(owner, key_id=key.id),
            key_plan_id=key.plan_id,
            key_models=tuple(key.allowed_models) if key.allowed_models is not None else None,
        )
        cached = _CachedKey(principal, key.expires_at)
        if digest is None:
            self._keys_by_id[key.id] = cached
        else:
            self._keys[digest] = cached
        return cached


def to_principal(row: PrincipalRow, *, key_id: str | None) -> Principal:
    return Principal(
        id=row.id,
        kind=row.kind,  # type: ignore[arg-type]
        team_id=row.team_id,
        roles=frozenset(row.roles),  # type: ignore[arg-type]
        name=row.name,
        key_id=key_id,
        plan_id=row.plan_id,
    )


class IdentityStore:
    """Creates teams, principals and keys. The admin API builds on this."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def ensure_team(self, name: str) -> str:
        async with self._sessions() as session, session.begin():
            team = (await session.execute(select(TeamRow).where(TeamRow.name == name))).scalar()
            if team is None:
                team = TeamRow(id=new_id("team"), name=name)
                session.add(team)
            return team.id

    async def create_principal(
        self, *, name: str, kind: PrincipalKind, team_id: str, roles: list[Role]
    ) -> str:
        async with self._sessions() as session, session.begin():
            row = PrincipalRow(
                id=new_id("usr" if kind == "user" else "svc"),
                kind=kind,
                name=name,
                team_id=team_id,
                roles=list(roles),
            )
            session.add(row)
            return row.id

    async def issue_key(
        self, principal_id: str, *, name: str = "", secret: str | None = None
    ) -> IssuedKey:
        secret = secret or new_key_secret()
        async with self._sessions() as session, session.begin():
            row = ApiKeyRow(
                id=new_id("key"),
                principal_id=principal_id,
                name=name,
                prefix=display_prefix(secret),
                secret_hash=hash_key(secret),
            )
            session.add(row)
        return IssuedKey(id=row.id, secret=secret, principal_id=principal_id)

    async def key_exists(self, secret: str) -> bool:
        async with self._sessions() as session:
            found = await session.execute(
                select(ApiKeyRow.id).where(ApiKeyRow.secret_hash == hash_key(secret))
            )
            return found.first() is not None

    async def has_admin(self) -> bool:
        async with self._sessions() as session:
            rows = (await session.execute(select(PrincipalRow.roles))).scalars().all()
        return any("admin" in roles for roles in rows)
