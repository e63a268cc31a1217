"""The search backends knowledge bases live in, built on first use from settings.

One instance per backend kind serves every knowledge base of that kind (each is one
collection of it). Backend modules are imported only when chosen, so a missing extra is a
clear error at the moment someone asks for that backend, not at start-up.
"""

from __future__ import annotations

from agentic_platform.errors import InvalidRequestError
from agentic_platform.search.backends.base import SearchBackend
from agentic_platform.settings import RetrievalSettings
from agentic_platform.state import PlatformState


class KnowledgeBaseBackends:
    """The search backend of each kind, built on first use and closed at shutdown."""

    def __init__(self, state: PlatformState, settings: RetrievalSettings) -> None:
        self._state = state
        self._settings = settings
        self._built: dict[str, SearchBackend] = {}

    def default_name(self) -> str:
        if self._settings.default_backend != "auto":
            return self._settings.default_backend
        return "sqlite" if self._state.engine.dialect.name == "sqlite" else "pgvector"

    def check_available(self, name: str) -> None:
        """Refuse, with what to configure, a backend this deployment cannot serve."""
        if name == "pgvector" and self._settings.pgvector_url is None:
            raise InvalidRequestError(
                "The pgvector backend is not configured here (retrieval.pgvector_url).",
                param="backend",
                code="backend_unavailable",
            )
        if name == "sqlite" and self._state.engine.dialect.name != "sqlite":
            raise InvalidRequestError(
                "The sqlite backend needs the platform database to be SQLite; use pgvector.",
                param="backend",
                code="backend_unavailable",
            )

    def get(self, name: str) -> SearchBackend:
        backend = self._built.get(name)
        if backend is None:
            backend = self._built[name] = self._build(name)
        return backend

    def _build(self, name: str) -> SearchBackend:
        if name == "sqlite":
            from agentic_platform.search.backends.sqlite import SqliteSearchBackend

            return SqliteSearchBackend(self._state.engine)
        if name == "memory":
            from agentic_platform.search.backends.memory import MemorySearchBackend

            return MemorySearchBackend()
        if name == "pgvector":
            from agentic_platform.search.backends.pgvector import PgVectorSearchBackend

            self.check_available(name)
            assert self._settings.pgvector_url is not None
            return PgVectorSearchBackend(self._settings.pgvector_url.get_secret_value())
        from agentic_platform.search.backends.bedrock import BedrockSearchBackend

        return BedrockSearchBackend(self._settings.bedrock_region)

    def use(self, name: str, backend: SearchBackend) -> None:
        """Serve ``name`` with this instance (e.g. a Bedrock client set up by the caller)."""
        self._built[name] = backend

    async def aclose(self) -> None:
        for backend in self._built.values():
            await backend.aclose()
        self._built.clear()
