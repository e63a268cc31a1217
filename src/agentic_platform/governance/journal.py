"""The usage journal: every usage record on local disk before its answer is sent.

The ledger holds records in memory until its next batch write; the journal is what a crash
cannot take away. Each record is one JSON line appended with one ``os.write`` (7 to 10 µs,
so it runs on the event loop) to this process's current *segment*. The write lands in the
operating system's page cache, which outlives the process however it dies; only an
``fsync`` (``sync_seconds``) makes it outlive the machine. When the ledger starts a batch
write it *seals* the current segment and begins a new one; once everything buffered is in
the database, the sealed segments are deleted.

Several processes may share the directory. Each has:

* ``usage-<pid>-<random>.lock``, held with ``flock`` for the life of the process (the kernel
  lets go of it when the process dies, however it dies). It is created and locked under a
  hidden name and renamed into place, so no one ever sees it unlocked while its owner lives;
* ``usage-<pid>-<random>.<n>.jsonl``, its segments.

At start-up :func:`replay` takes every lock it can: each belongs to a dead process, whose
segments are written to the database (records are keyed by request id, so one written
already is skipped) and then deleted. A live process's lock cannot be taken, so its journal
is never touched. ``flock`` needs a local file system (not NFS).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path

import orjson

from agentic_platform.data_dir import make_directory, make_private
from agentic_platform.governance.ledger import UsageEntry

logger = logging.getLogger("agentic_platform.governance.journal")

_FIELDS = tuple(f.name for f in fields(UsageEntry))
_OPEN_SEGMENT = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC


def _lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@dataclass(slots=True)
class UsageJournal:
    """This process's journal. Create it with :meth:`create`, at start-up."""

    directory: Path
    stem: str
    _lock_fd: int
    _fd: int = -1
    _segment: Path = field(default_factory=Path)
    _number: int = 0
    _appended: bool = False
    _sealed: list[Path] = field(default_factory=list)
    _failing: bool = False

    @classmethod
    def create(cls, directory: Path) -> UsageJournal:
        """Take a lock file and open the first segment; raises ``OSError`` if the directory
        cannot be written."""
        make_directory(directory)
        make_private(directory)
        stem = f"usage-{os.getpid()}-{secrets.token_hex(6)}"
        hidden = directory / f".{stem}.lock"
        lock_fd = os.open(hidden, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        os.rename(hidden, directory / f"{stem}.lock")
        journal = cls(directory, stem, lock_fd)
        journal._begin()
        return journal

    def _begin(self) -> None:
        self._number += 1
        self._segment = self.directory / f"{self.stem}.{self._number}.jsonl"
        self._fd = os.open(self._segment, _OPEN_SEGMENT, 0o600)
        self._appended = False

    def append(self, entry: UsageEntry) -> None:
        """Write one record. A failure (a full disk) is logged, not raised: the record
        stays in the ledger's buffer, only its protection against a crash is gone."""
        line = orjson.dumps(entry, option=orjson.OPT_APPEND_NEWLINE)
        try:
            written = os.write(self._fd, line)
            while written < len(line):  # a short write: only when the disk is nearly full
                written += os.write(self._fd, line[written:])
        except OSError as error:
            if not self._failing:
                logger.error("usage journal write failed", exc_info=error)
            self._failing = True
            return
        self._failing = False
        self._appended = True

    def seal(self) -> None:
        """Start a new segment; the current one is kept until :meth:`release`."""
        if not self._appended:
            return
        os.close(self._fd)
        self._sealed.append(self._segment)
        self._begin()

    def release(self) -> None:
        """Delete the sealed segments: everything they hold is in the database."""
        for segment in self._sealed:
            segment.unlink(missing_ok=True)
        self._sealed.clear()

    def segments(self) -> list[Path]:
        return [*self._sealed, self._segment]

    def close(self, *, written: bool) -> None:
        """Stop. ``written``: every record is in the database, so the files go; otherwise
        they stay, unlocked, for the next start to replay."""
        os.close(self._fd)
        if written:
            for segment in self.segments():
                segment.unlink(missing_ok=True)
            (self.directory / f"{self.stem}.lock").unlink(missing_ok=True)
        os.close(self._lock_fd)

    async def sync_every(self, seconds: float) -> None:
        """fsync the segments and the directory every ``seconds``, in a thread (an fsync
        can take milliseconds). Runs until cancelled."""
        while True:
            await asyncio.sleep(seconds)
            try:
                await asyncio.to_thread(_fsync_all, [*self.segments(), self.directory])
            except OSError as error:
                logger.warning("usage journal fsync failed", exc_info=error)


def _fsync_all(paths: list[Path]) -> None:
    for path in paths:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:  # released meanwhile: its records are in the database
            continue
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def read_segment(path: Path) -> tuple[list[UsageEntry], int]:
    """The records of one segment, and how many lines could not be read (the last line of
    a segment cut by a power loss)."""
    entries: list[UsageEntry] = []
    unreadable = 0
    for line in path.read_bytes().splitlines():
        try:
            data = orjson.loads(line)
            values = {name: data[name] for name in _FIELDS}
            values["time"] = datetime.fromisoformat(values["time"])
            entries.append(UsageEntry(**values))
        except (ValueError, TypeError, KeyError):
            unreadable += 1
    return entries, unreadable


@dataclass(slots=True)
class _DeadJournal:
    lock: Path
    lock_fd: int
    segments: list[Path]


def _dead_journals(directory: Path) -> list[_DeadJournal]:
    """The journals of processes that are gone, each locked by this process now."""
    found: list[_DeadJournal] = []
    for lock in sorted(directory.glob("usage-*.lock")):
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:  # replayed and removed by another process just now
            continue
        if not _lock(fd) or not _still_named(fd, lock):
            os.close(fd)
            continue
        stem = lock.name.removesuffix(".lock")
        segments = sorted(directory.glob(f"{stem}.*.jsonl"), key=_segment_number)
        found.append(_DeadJournal(lock, fd, segments))
    return found


def _still_named(fd: int, lock: Path) -> bool:
    try:
        return os.stat(lock).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def _segment_number(path: Path) -> int:
    with contextlib.suppress(ValueError):
        return int(path.name.rsplit(".", 2)[1])
    return 0


async def replay(
    directory: Path, write: Callable[[list[UsageEntry]], Awaitable[None]], batch_size: int
) -> int:
    """Write the records left by dead processes in ``directory`` and delete their files;
    returns how many records were read. A failed write raises and leaves the rest for the
    next start."""
    total = 0
    for dead in await asyncio.to_thread(_dead_journals, directory):
        try:
            for segment in dead.segments:
                entries, unreadable = await asyncio.to_thread(read_segment, segment)
                if unreadable:
                    logger.warning(
                        "unreadable lines in a usage journal were skipped",
                        extra={"path": str(segment), "lines": unreadable},
                    )
                for start in range(0, len(entries), batch_size):
                    await write(entries[start : start + batch_size])
                segment.unlink(missing_ok=True)
                total += len(entries)
            dead.lock.unlink(missing_ok=True)
        finally:
            os.close(dead.lock_fd)
    return total
