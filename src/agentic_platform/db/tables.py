"""Imports every table module so ``metadata`` knows the whole schema (Alembic reads it)."""

from agentic_platform.agents import models as agents_models
from agentic_platform.auth import models as auth_models
from agentic_platform.db.base import Base
from agentic_platform.governance import models as governance_models
from agentic_platform.memory import models as memory_models
from agentic_platform.retrieval import models as retrieval_models
from agentic_platform.search import models as search_models

metadata = Base.metadata

__all__ = [
    "agents_models",
    "auth_models",
    "governance_models",
    "memory_models",
    "metadata",
    "retrieval_models",
    "search_models",
]
