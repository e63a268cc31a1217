"""The first admin key: created on the first start, stored hashed, shown once."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from agentic_platform.auth.keys import KEY_PREFIX
from agentic_platform.auth.service import IdentityStore
from agentic_platform.data_dir import make_directory
from agentic_platform.errors import ConfigurationError
from agentic_platform.settings import Settings

DEFAULT_TEAM = "default"


async def ensure_admin_key(settings: Settings, identities: IdentityStore) -> str | None:
    """Make sure an admin can sign in. Returns a newly created secret (for printing once),
    or None when an admin already exists or the key came from settings."""
    configured = settings.auth.bootstrap_admin_key
    if configured is not None:
        secret = configured.get_secret_value()
        if not secret.startswith(KEY_PREFIX) or len(secret) < len(KEY_PREFIX) + 22:
            raise ConfigurationError(
                "AGENTIC_AUTH__BOOTSTRAP_ADMIN_KEY must be a key made by `agentic keys generate` "
                f"(it starts with '{KEY_PREFIX}' and carries at least 128 random bits)"
            )
        if not await identities.key_exists(secret):
            await _create_admin(identities, secret)
        return None
    if await identities.has_admin():
        return None
    if settings.environment == "production":
        raise ConfigurationError(
            "there is no admin yet: in production set AGENTIC_AUTH__BOOTSTRAP_ADMIN_KEY from a "
            "secret (make one with `agentic keys generate`) for the first start"
        )
    issued_secret = await _create_admin(identities, None)
    await asyncio.to_thread(write_private_file, settings.admin_key_file, issued_secret + "\n")
    return issued_secret


async def _create_admin(identities: IdentityStore, secret: str | None) -> str:
    team_id = await identities.ensure_team(DEFAULT_TEAM)
    principal_id = await identities.create_principal(
        name="admin", kind="user", team_id=team_id, roles=["admin"]
    )
    issued = await identities.issue_key(principal_id, name="bootstrap admin key", secret=secret)
    return issued.secret


def write_private_file(path: Path, content: str) -> None:
    """Write a file only its owner can read (0600), whatever the umask."""
    make_directory(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(content)
    os.chmod(path, 0o600)


def read_admin_key(settings: Settings) -> str | None:
    return _read_key_file(settings.admin_key_file)


async def ensure_service_key(settings: Settings, identities: IdentityStore) -> str:
    """The key this platform's services use to call each other for a user (see
    docs/governance.md, "Acting for a user"): from settings, else from the data directory,
    else newly created there."""
    configured = settings.auth.service_key
    if configured is not None:
        secret = configured.get_secret_value()
        if not secret.startswith(KEY_PREFIX) or len(secret) < len(KEY_PREFIX) + 22:
            raise ConfigurationError(
                "AGENTIC_AUTH__SERVICE_KEY must be a key made by `agentic keys generate`"
            )
    else:
        stored: str | None = await asyncio.to_thread(_read_key_file, settings.service_key_file)
        secret = stored or ""
    if secret and await identities.key_exists(secret):
        return secret
    team_id = await identities.ensure_team(DEFAULT_TEAM)
    principal_id = await identities.create_principal(
        name="platform services", kind="service", team_id=team_id, roles=["service"]
    )
    issued = await identities.issue_key(
        principal_id, name="platform service key", secret=secret or None
    )
    if configured is None:
        await asyncio.to_thread(write_private_file, settings.service_key_file, issued.secret + "\n")
    return issued.secret


def _read_key_file(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None
