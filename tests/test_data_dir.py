"""The data directory and the files in it are private to their owner."""

from __future__ import annotations

import stat
from pathlib import Path

import httpx

from agentic_platform.app import create_app
from agentic_platform.settings import Settings
from agentic_platform.testing.server import serve_in_thread


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_data_directory_is_private(settings: Settings, admin_key: str) -> None:
    with serve_in_thread(create_app(settings)) as url:
        answer = httpx.get(f"{url}/admin/v1/me", headers={"Authorization": f"Bearer {admin_key}"})
        assert answer.status_code == 200
        data = settings.data_dir
        assert _mode(data) == 0o700
        files = [path for path in data.iterdir() if path.is_file()]
        assert {path.name for path in files} >= {"agentic.db", "service.key"}
        assert {path.name: _mode(path) for path in files} == {path.name: 0o600 for path in files}


def test_an_open_data_directory_is_tightened_at_start_up(settings: Settings) -> None:
    with serve_in_thread(create_app(settings)):
        pass
    data = settings.data_dir
    data.chmod(0o755)
    for path in data.iterdir():
        path.chmod(0o644)
    with serve_in_thread(create_app(settings)):
        assert _mode(data) == 0o700
        assert {_mode(path) for path in data.iterdir() if path.is_file()} == {0o600}
