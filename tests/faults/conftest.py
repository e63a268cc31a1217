"""Fixtures of the fault tests beside the shared ``upstream`` and ``refused_url``: a port
whose connections never complete."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest


@pytest.fixture
def blackhole_url() -> Iterator[str]:
    """A base URL whose TCP handshake never completes: a listener that accepts nothing and
    whose backlog is already full, so the kernel drops further connection attempts."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = []
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            for filler in fillers:
                filler.close()


@pytest.fixture
def refused_url() -> str:
    """A base URL on a port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
