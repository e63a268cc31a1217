"""The data directory is private: other local users cannot read the database, the keys or
the usage journal, whatever the umask, and a start tightens what an older one left open."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agentic_platform.app import create_app
from agentic_platform.settings import Settings
from agentic_platform.testing.catalog import scripted_models
from agentic_platform.testing.server import serve_in_thread


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The common default umask, under which files are created readable by everyone."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _start_and_chat(settings: Settings) -> None:
    """Start the platform on the embedded defaults, make one metered call, stop."""
    with serve_in_thread(create_app(settings)) as url:
        key = settings.admin_key_file.read_text().strip()
        response = httpx.post(
            f"{url}/llm/v1/chat/completions",
            headers={"Authorization": f"Bearer {key}"},
            json={"model": "echo", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert response.status_code == 200
        database = settings.data_dir / "agentic.db"
        for path in (database, database.with_name("agentic.db-wal")):
            assert _mode(path) == 0o600, path  # while the server runs, -wal and -shm exist
        assert _mode(database.with_name("agentic.db-shm")) == 0o600


@pytest.mark.usefixtures("open_umask")
def test_a_new_data_directory_and_its_files_are_private(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "home" / ".agentic", models=scripted_models())
    _start_and_chat(settings)
    assert _mode(settings.data_dir) == 0o700
    for name in ("agentic.db", "admin.key", "service.key"):
        assert _mode(settings.data_dir / name) == 0o600, name
    assert _mode(tmp_path / "home") == 0o700  # a missing parent is created private too


@pytest.mark.usefixtures("open_umask")
def test_a_start_tightens_a_data_directory_left_open(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(data_dir=tmp_path / "data", models=scripted_models())
    _start_and_chat(settings)
    os.chmod(settings.data_dir, 0o755)  # noqa: S103 - as an older version left it
    opened = [settings.data_dir / name for name in ("agentic.db", "admin.key", "service.key")]
    for path in opened:
        os.chmod(path, 0o644)
    unrelated = settings.data_dir / "notes.txt"
    unrelated.write_text("not the platform's")
    os.chmod(unrelated, 0o644)

    with caplog.at_level(logging.WARNING, logger="agentic_platform.data_dir"):
        _start_and_chat(settings)

    assert _mode(settings.data_dir) == 0o700
    assert all(_mode(path) == 0o600 for path in opened)
    assert _mode(unrelated) == 0o644  # only the platform's own files are touched
    tightened = {
        getattr(record, "path", None)
        for record in caplog.records
        if record.name == "agentic_platform.data_dir" and record.levelno == logging.WARNING
    }
    assert tightened == {str(settings.data_dir), *(str(path) for path in opened)}


@pytest.mark.usefixtures("open_umask")
def test_a_sqlite_file_outside_the_data_directory_is_private(tmp_path: Path) -> None:
    database = tmp_path / "elsewhere" / "platform.db"
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite+aiosqlite:///{database}",
        models=scripted_models(),
    )
    with serve_in_thread(create_app(settings)):
        assert _mode(database) == 0o600
        assert _mode(database.parent) == 0o700
