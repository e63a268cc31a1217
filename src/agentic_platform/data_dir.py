"""The data directory is private to the user the platform runs as.

It holds what other local users must not read: the SQLite database (memories, documents,
usage), ``admin.key``, ``service.key`` and the usage journal. Every directory the platform
creates for them is 0700 and every file 0600, whatever the umask; a start that finds one of
them open to the group or to others takes those permissions away and logs a warning.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Iterable
from pathlib import Path

logger = logging.getLogger("agentic_platform.data_dir")


def make_directory(path: Path) -> None:
    """Create ``path`` and any missing parents, each 0700 (an existing one is left alone)."""
    missing: list[Path] = []
    current = path
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process was quicker
            directory.mkdir(mode=0o700)


def make_private_file(path: Path) -> None:
    """Create an empty file 0600 (and its folder, 0700) unless it exists, so whatever opens
    it later keeps that mode. SQLite does, and gives its -wal and -shm files the same."""
    make_directory(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
    make_private(path)


def make_private(path: Path) -> None:
    """Take the group's and others' permissions away from ``path`` if it exists and has any
    (with a warning: something made it readable by other users)."""
    try:
        found = path.lstat()
    except FileNotFoundError:
        return
    mode = stat.S_IMODE(found.st_mode)
    if mode & 0o077 == 0 or stat.S_ISLNK(found.st_mode):
        return
    try:
        os.chmod(path, mode & 0o700)
    except OSError as error:
        logger.warning(
            "could not make a file in the data directory private",
            extra={"path": str(path), "mode": f"{mode:o}"},
            exc_info=error,
        )
        return
    logger.warning(
        "other users could read this; made it private to its owner",
        extra={"path": str(path), "mode": f"{mode:o}", "now": f"{mode & 0o700:o}"},
    )


def secure_data_dir(data_dir: Path, files: Iterable[Path]) -> None:
    """At start-up: make an existing data directory and the platform's files in it private.
    Only the named files are touched, not whatever else the directory may hold."""
    make_private(data_dir)
    for path in files:
        make_private(path)
