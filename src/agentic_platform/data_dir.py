"""The data directory holds memories, documents, usage and keys: only its owner may read it.

The directory is created 0700 and every file the platform keeps in it is 0600, whatever the
umask. A directory or file that is already more open (made by an older version, or by hand) is
tightened at start-up, with a warning in the log.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from sqlalchemy.engine import make_url

from agentic_platform.settings import Settings

logger = logging.getLogger(__name__)

_PRIVATE_DIR = 0o700
_PRIVATE_FILE = 0o600
_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def secure_data_dir(settings: Settings) -> None:
    """Create the data directory (and the SQLite file, when the database is SQLite) private to
    the owner, and tighten whatever in it is readable by others."""
    _private_dir(settings.data_dir)
    for path in sorted(settings.data_dir.iterdir()):
        if path.is_file() and not path.is_symlink():
            _private_file(path)
    database = _sqlite_file(settings.effective_database_url)
    if database is not None:
        _private_dir(database.parent)
        if not database.exists():
            os.close(os.open(database, os.O_WRONLY | os.O_CREAT, _PRIVATE_FILE))
        for path in [database, *(Path(f"{database}{end}") for end in _SQLITE_SIDE_FILES)]:
            if path.exists():
                _private_file(path)


def _sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).expanduser()


def _private_dir(path: Path) -> None:
    if not path.exists():
        path.mkdir(parents=True, mode=_PRIVATE_DIR)
    _tighten(path, _PRIVATE_DIR)


def _private_file(path: Path) -> None:
    _tighten(path, _PRIVATE_FILE)


def _tighten(path: Path, mode: int) -> None:
    info = path.stat()
    current = stat.S_IMODE(info.st_mode)
    if current & 0o077 == 0:
        return
    if info.st_uid != os.getuid():
        logger.warning("%s is open to other users (mode %o), owned by another user", path, current)
        return
    os.chmod(path, mode)
    logger.warning("%s was open to other users (mode %o); made it %o", path, current, mode)
