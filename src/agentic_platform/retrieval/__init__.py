"""The retrieval gateway: knowledge bases, document ingestion and hybrid search
(``/retrieval/v1``). Shared search pieces live in :mod:`agentic_platform.search`."""
