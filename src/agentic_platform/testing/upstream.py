"""A fake model upstream: a real aiohttp server on loopback that records what it receives
and answers as each test scripts it.

It records every request (so tests can assert on the translated wire format) and answers each
path with a handler chosen by the test: a JSON body, a scripted server-sent event stream
(optionally written in pieces, or left hanging), or anything else. Start it with
:func:`serve_fake_upstream`.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web
from multidict import CIMultiDictProxy

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Received:
    """One request as the fake upstream saw it."""

    method: str
    path: str
    headers: CIMultiDictProxy[str]
    body: bytes
    peer_port: int

    def json(self) -> Any:
        return orjson.loads(self.body)


class FakeUpstream:
    """What the fake upstream has received, and how it answers each path."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.routes: dict[str, Handler] = {}
        self.disconnected = asyncio.Event()
        self.base_url = ""

    @staticmethod
    def sse(data: Any, event: str | None = None) -> bytes:
        """One server-sent event carrying ``data`` as JSON (or verbatim if bytes)."""
        payload = data if isinstance(data, bytes) else orjson.dumps(data)
        prefix = f"event: {event}\n".encode() if event else b""
        return prefix + b"data: " + payload + b"\n\n"

    @property
    def last(self) -> Received:
        return self.requests[-1]

    def on(self, path: str, handler: Handler) -> None:
        self.routes[path] = handler

    def reply_json(
        self, path: str, body: Any, *, status: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(
                body=orjson.dumps(body),
                status=status,
                headers=headers,
                content_type="application/json",
            )

        self.on(path, handler)

    def reply_sse(
        self, path: str, pieces: list[bytes], *, pause: float = 0.0, hang: bool = False
    ) -> None:
        """Stream ``pieces`` as separate writes (``pause`` apart, so the client reads them
        separately); ``hang`` keeps the response open afterwards until the client leaves."""

        async def handler(request: web.Request) -> web.StreamResponse:
            return await send_events(
                request, pieces, pause=pause, then=self.wait_for_disconnect if hang else None
            )

        self.on(path, handler)

    def hang(self, path: str) -> None:
        """Accept the request and never answer."""

        async def handler(request: web.Request) -> web.StreamResponse:
            await self.wait_for_disconnect()
            return web.Response()

        self.on(path, handler)

    async def wait_for_disconnect(self) -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:  # the server cancels a handler whose client left
            self.disconnected.set()
            raise

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        self.requests.append(
            Received(
                method=request.method,
                path=request.path,
                headers=request.headers,
                body=await request.read(),
                peer_port=peer[1] if peer else 0,
            )
        )
        handler = self.routes.get(request.path)
        if handler is None:
            return web.json_response({"error": {"message": "no such route"}}, status=404)
        return await handler(request)


async def send_events(
    request: web.Request,
    pieces: list[bytes],
    *,
    pause: float = 0.0,
    then: Callable[[], Awaitable[None]] | None = None,
) -> web.StreamResponse:
    """Answer with an event stream: each of ``pieces`` a separate write, ``pause`` apart;
    ``then`` is awaited before the stream ends (to keep it open)."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for piece in pieces:
        await response.write(piece)
        if pause:
            await asyncio.sleep(pause)
    if then is not None:
        await then()
    await response.write_eof()
    return response


@asynccontextmanager
async def serve_fake_upstream() -> AsyncIterator[FakeUpstream]:
    """A :class:`FakeUpstream` served on an ephemeral loopback port of the running loop;
    ``base_url`` is set once it listens. A handler whose client leaves is cancelled."""
    fake = FakeUpstream()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.dispatch)
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        fake.base_url = f"http://{host}:{port}"
        yield fake
    finally:
        await runner.cleanup()


def closed_port_url() -> str:
    """A base URL on a loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
