"""Resolves API keys to principals, with a short in-memory cache so a known key costs no
database round trip on the request path."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
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
    fresh_until: float


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A key just created: the only moment its secret exists outside the caller's hands."""

    id: str
    secret: str
    principal_id: str


class KeyAuthenticator:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], cache_seconds: float = 1.0
    ) -> None:
        self._sessions = sessions
        self._cache_seconds = cache_seconds
        self._cache: dict[str, _CachedKey] = {}
        self._principals: dict[str, tuple[Principal | None, float]] = {}

    async def authenticate(self, secret: str) -> Principal:
        if not secret.startswith(KEY_PREFIX):
            raise AuthenticationError("Invalid API key: it is not a key issued by this platform.")
        digest = hash_key(secret)
        cached = self._cache.get(digest)
        if cached is None or cached.fresh_until < time.monotonic():
            cached = await self._load(digest)
            self._cache[digest] = cached
        if cached.expires_at is not None and cached.expires_at <= utcnow():
            raise AuthenticationError("The API key has expired.", code="expired_api_key")
        return cached.principal

    async def principal_by_id(self, principal_id: str) -> Principal | None:
        """A principal by id (cached like keys), or None if unknown or disabled."""
        cached = self._principals.get(principal_id)
        if cached is not None and cached[1] >= time.monotonic():
            return cached[0]
        async with self._sessions() as session:
            row = await session.get(PrincipalRow, principal_id)
        principal = None if row is None or row.disabled else _to_principal(row, key_id=None)
        self._principals[principal_id] = (principal, time.monotonic() + self._cache_seconds)
        return principal

    async def _load(self, digest: str) -> _CachedKey:
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(ApiKeyRow, PrincipalRow)
                    .join(PrincipalRow, PrincipalRow.id == ApiKeyRow.principal_id)
                    .where(ApiKeyRow.secret_hash == digest)
                )
            ).first()
        if row is None:
            raise AuthenticationError("Invalid API key.")
        key, owner = row
        if key.revoked_at is not None or owner.disabled:
            raise AuthenticationError("The API key has been revoked.", code="revoked_api_key")
        principal = _to_principal(owner, key_id=key.id)
        return _CachedKey(principal, key.expires_at, time.monotonic() + self._cache_seconds)


def _to_principal(row: PrincipalRow, *, key_id: str | None) -> Principal:
    return Principal(
        id=row.id,
        kind=row.kind,  # type: ignore[arg-type]
        team_id=row.team_id,
        roles=frozenset(row.roles),  # type: ignore[arg-type]
        name=row.name,
        key_id=key_id,
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
