"""Principals for people and machines signed in by an OIDC provider.

The first token of a subject creates its principal (in the team its token names), so plans,
usage and memories have someone to land on. Roles come from the token every time: the
identity provider stays the authority on who is an admin.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentic_platform.auth.keys import new_id
from agentic_platform.auth.models import PrincipalRow
from agentic_platform.auth.oidc import ExternalIdentity
from agentic_platform.auth.principal import Principal
from agentic_platform.auth.service import IdentityStore, to_principal
from agentic_platform.errors import AuthenticationError


class ExternalPrincipals:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], identities: IdentityStore
    ) -> None:
        self._sessions = sessions
        self._identities = identities
        self._known: dict[tuple[str, str], Principal] = {}

    async def resolve(self, identity: ExternalIdentity) -> Principal:
        key = (identity.issuer, identity.subject)
        principal = self._known.get(key)
        if principal is None:
            principal = await self._load_or_create(identity)
            self._known[key] = principal
        return replace(principal, roles=identity.roles)

    async def invalidate(self, principal_ids: set[str]) -> None:
        self._known = {k: p for k, p in self._known.items() if p.id not in principal_ids}

    async def _load_or_create(self, identity: ExternalIdentity) -> Principal:
        row = await self._find(identity)
        if row is None:
            team_id = await self._identities.ensure_team(identity.team)
            try:
                async with self._sessions() as session, session.begin():
                    row = PrincipalRow(
                        id=new_id("usr" if identity.kind == "user" else "svc"),
                        kind=identity.kind,
                        name=identity.name,
                        email=identity.email if identity.email_verified else None,
                        team_id=team_id,
                        roles=sorted(identity.roles),
                        issuer=identity.issuer,
                        external_subject=identity.subject,
                    )
                    session.add(row)
            except IntegrityError:  # another replica created it first
                row = await self._find(identity)
        if row is None or row.disabled:
            raise AuthenticationError("This account is disabled.", code="account_disabled")
        return to_principal(row, key_id=None)

    async def _find(self, identity: ExternalIdentity) -> PrincipalRow | None:
        async with self._sessions() as session:
            found: PrincipalRow | None = (
                await session.execute(
                    select(PrincipalRow).where(
                        PrincipalRow.issuer == identity.issuer,
                        PrincipalRow.external_subject == identity.subject,
                    )
                )
            ).scalar_one_or_none()
            return found
