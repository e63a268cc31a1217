"""Serves the app under uvicorn the way process managers expect a service to behave.

- A stop by SIGTERM or SIGINT, once the shutdown is done, ends the process with status 0.
  (uvicorn raises the signal again after its shutdown, so the process dies of it: 143, which
  Kubernetes and systemd report as a failure.)
- A start that fails raises :class:`StartFailure`, whose message says in one line what went
  wrong: the port is taken (checked first, before the app starts), or the app's start-up
  failed (an extra that is missing, a setting that cannot work, a database out of reach).
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import threading
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI
from uvicorn.server import HANDLED_SIGNALS

from agentic_platform.errors import ConfigurationError, PlatformError
from agentic_platform.settings import Settings

GRACEFUL_SHUTDOWN_SECONDS = 15


class StartFailure(Exception):
    """The server did not start; ``status`` is the exit status to end the process with."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


class PlatformServer(uvicorn.Server):
    """uvicorn's server, minus raising the stopping signal again after a clean shutdown."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        original = {number: signal.signal(number, self.handle_exit) for number in HANDLED_SIGNALS}
        try:
            yield
        finally:
            for number, handler in original.items():
                signal.signal(number, handler)


def serve(app: FastAPI, settings: Settings) -> None:
    """Serve ``app`` on the configured address until stopped by a signal."""
    listener = listen(settings.host, settings.port)
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        loop="uvloop",
        http="httptools",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        server_header=False,
    )
    server = PlatformServer(config)
    try:
        server.run(sockets=[listener])
    except SystemExit:
        pass  # how uvicorn ends a failed start-up; told apart below
    finally:
        listener.close()
    if not server.started:
        raise _start_failure(app)


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``, or a :class:`StartFailure` that says why not."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        return socket.create_server((host, port), family=family)
    except OSError as error:
        # A resolver failure (socket.gaierror) carries a negative code of its own.
        number = error.errno if error.errno is not None and error.errno > 0 else None
        reason = (os.strerror(number) if number else error.strerror or str(error)).lower()
        hint = (
            "stop the process that holds it, or choose another port (AGENTIC_PORT or --port)"
            if error.errno == errno.EADDRINUSE
            else "check AGENTIC_HOST and AGENTIC_PORT (or --host and --port)"
        )
        raise StartFailure(f"cannot listen on {host}:{port}: {reason}; {hint}") from None


def _start_failure(app: FastAPI) -> StartFailure:
    error = getattr(app.state, "start_error", None)
    if isinstance(error, ConfigurationError):
        return StartFailure(f"cannot start: {error.message}", status=2)
    if isinstance(error, PlatformError):
        return StartFailure(f"cannot start: {error.message}")
    if error is not None:
        return StartFailure(f"cannot start: {type(error).__name__}: {error}")
    return StartFailure("cannot start; the log above says why")
