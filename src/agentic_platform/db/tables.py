"""Imports every table module so ``metadata`` knows the whole schema (Alembic reads it)."""

from agentic_platform.auth import models as auth_models
from agentic_platform.db.base import Base
from agentic_platform.governance import models as governance_models

metadata = Base.metadata

__all__ = ["auth_models", "governance_models", "metadata"]
