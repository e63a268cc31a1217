"""Serve an ASGI app on a real loopback port from a background thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp


@contextmanager
def serve_in_thread(
    app: ASGIApp, *, host: str = "127.0.0.1", timeout: float = 60.0
) -> Iterator[str]:
    """Run ``app`` (lifespan included) under uvicorn on an ephemeral port; yields its base
    URL and shuts it down gracefully on exit."""
    config = uvicorn.Config(
        app, host=host, port=0, log_config=None, lifespan="on", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the server failed to start (see the log)")
        if time.monotonic() > deadline:
            raise TimeoutError("the server did not start in time")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)
