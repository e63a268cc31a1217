"""A fake model upstream: a real aiohttp server on loopback that records what it receives
and answers as each test scripts it."""

from __future__ import annotations

import asyncio
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
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await response.prepare(request)
            for piece in pieces:
                await response.write(piece)
                if pause:
                    await asyncio.sleep(pause)
            if hang:
                await self.wait_for_disconnect()
            await response.write_eof()
            return response

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


@asynccontextmanager
async def running_fake_upstream() -> AsyncIterator[FakeUpstream]:
    """A :class:`FakeUpstream` served on a loopback port for the duration."""
    fake = FakeUpstream()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.dispatch)
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    fake.base_url = f"http://{host}:{port}"
    try:
        yield fake
    finally:
        await runner.cleanup()
