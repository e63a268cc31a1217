"""API key secrets: generated with 256 bits of randomness, recognisable by their prefix, and
stored only as a SHA-256 digest (a slow hash adds nothing for secrets this random, and the
digest keeps lookups a single indexed equality)."""

from __future__ import annotations

import hashlib
import secrets
import uuid

KEY_PREFIX = "agp_"


def new_key_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def display_prefix(secret: str) -> str:
    """The part of a key that may be shown again (lists, logs): never enough to use it."""
    return secret[: len(KEY_PREFIX) + 6]


def new_id(kind: str) -> str:
    return f"{kind}_{uuid.uuid4().hex[:20]}"
