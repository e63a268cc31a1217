"""Server processes for the benchmark: start, wait until they answer, measure, stop.

Everything listens on 127.0.0.1 only. Each server gets its own process (so the load
generator, the fake upstream and the server under test never share an interpreter) and its
own log file, whose tail is shown if it fails to start. Resident memory is read from
``/proc`` for the whole process tree, so a server that forks workers is not flattered.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """A running server process and where to reach it."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM (graceful), then SIGKILL after 10 s; only this process and its group."""
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)


def start(
    name: str, argv: Sequence[str], *, port: int, env: Mapping[str, str], logs: Path
) -> Server:
    """Start ``argv`` in a new process group (so stopping it also stops any children)."""
    log = logs / f"{name}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            list(argv),
            env=dict(env),
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return Server(name, process, port, log)


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def http_call(
    port: int,
    path: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> Reply:
    """One loopback HTTP request."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request(method, path, body=body, headers=dict(headers or {}))
        response = connection.getresponse()
        answer = response.read()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, answer)
    finally:
        connection.close()


def wait_ready(
    server: Server,
    path: str,
    *,
    timeout: float,
    method: str = "GET",
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Poll ``path`` until it answers 200; fail early, with the log, if the process dies."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"{server.name} exited with code {server.process.returncode}:\n" + server.log_tail()
            )
        try:
            reply = http_call(server.port, path, method=method, body=body, headers=headers)
        except (OSError, http.client.HTTPException) as error:
            last = str(error) or type(error).__name__
        else:
            if reply.status == 200:
                return
            last = f"HTTP {reply.status}: {reply.body[:300]!r}"
        time.sleep(0.2)
    raise RuntimeError(
        f"{server.name} was not ready within {timeout:g}s ({last}):\n{server.log_tail()}"
    )


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            text = Path(f"/proc/{pid}/task/{task}/children").read_text()
        except OSError:
            continue
        found += [int(child) for child in text.split()]
    return found


def _rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime, all threads


def _tree(pid: int) -> list[int]:
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        pending += _children(current)
    return found


def tree_cpu(pid: int) -> float:
    """CPU seconds used so far by ``pid`` and its live descendants."""
    return sum(_cpu_seconds(each) for each in _tree(pid))


def wait_idle(pid: int, *, max_seconds: float = 5.0, busy: float = 0.1) -> None:
    """Wait until ``pid``'s tree uses less than ``busy`` of a core (say, a slow server still
    answering requests its load generator gave up on), so it does not eat into the next
    measurement."""
    deadline = time.monotonic() + max_seconds
    while time.monotonic() < deadline:
        before = tree_cpu(pid)
        time.sleep(0.25)
        if tree_cpu(pid) - before < busy * 0.25:
            return


def tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and all its descendants."""
    return sum(_rss_bytes(each) for each in _tree(pid))


@dataclass
class RssSampler:
    """Samples a process tree's RSS every ``interval`` seconds in a thread; ``peak`` is the
    largest sample. Use as a context manager around a load phase."""

    pid: int
    interval: float = 0.25
    peak: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak = max(self.peak, tree_rss(self.pid))
