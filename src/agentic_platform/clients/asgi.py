"""An in-process httpx transport that streams, as a socket would.

httpx's own ``ASGITransport`` runs the app to the end and buffers the whole answer before it
returns, so an in-process stream arrives in one piece and a caller that gives up never tells
the app. This transport runs the app in a task of its own, returns the response as soon as its
headers are sent, hands the body over chunk by chunk, and tells the app
``http.disconnect`` when the caller closes the response early or is cancelled: the callee
then stops its work and settles what it spent exactly as for a client that hung up.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import httpx
from starlette.types import ASGIApp

_END = object()
SETTLE_SECONDS = 5.0
"""How long a caller that leaves waits for the app to finish after the disconnect (it settles
its usage then); past that the app's task is cancelled."""


class _Exchange:
    """One request's traffic between the caller and the app's task."""

    def __init__(self, request: httpx.Request) -> None:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        self.request_chunks = request.stream.__aiter__()
        self.request_done = False
        self.started: asyncio.Future[MutableMapping[str, Any]] = (
            asyncio.get_running_loop().create_future()
        )
        self.body: asyncio.Queue[object] = asyncio.Queue()
        self.disconnected = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        if self.request_done:
            await self.disconnected.wait()
            return {"type": "http.disconnect"}
        try:
            chunk = await self.request_chunks.__anext__()
        except StopAsyncIteration:
            self.request_done = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(self, message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            if not self.started.done():
                self.started.set_result(message)
        elif message["type"] == "http.response.body":
            if self.disconnected.is_set():
                raise OSError("the client disconnected")
            chunk = message.get("body", b"")
            if chunk:
                self.body.put_nowait(chunk)
            if not message.get("more_body", False):
                self.body.put_nowait(_END)


class _ResponseBody(httpx.AsyncByteStream):
    def __init__(self, exchange: _Exchange, task: asyncio.Task[None]) -> None:
        self._exchange = exchange
        self._task = task

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            chunk = await self._exchange.body.get()
            if chunk is _END:
                return
            if isinstance(chunk, BaseException):
                raise httpx.ReadError("the in-process response failed") from chunk
            assert isinstance(chunk, bytes)
            yield chunk

    async def aclose(self) -> None:
        await _leave(self._exchange, self._task)


async def _leave(exchange: _Exchange, task: asyncio.Task[None]) -> None:
    """Tell the app the caller has gone, give it time to settle, then stop it."""
    exchange.disconnected.set()
    if task.done():
        return
    with contextlib.suppress(BaseException):
        await asyncio.wait_for(asyncio.shield(task), SETTLE_SECONDS)
    if not task.done():
        task.cancel()


class StreamingASGITransport(httpx.AsyncBaseTransport):
    """Calls an ASGI app in this process, streaming its answer (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        exchange = _Exchange(request)
        task = asyncio.create_task(self._run(_scope(request), exchange))
        try:
            started = await asyncio.shield(exchange.started)
        except BaseException:
            await _leave(exchange, task)
            raise
        return httpx.Response(
            started["status"],
            headers=[(key, value) for key, value in started.get("headers", [])],
            stream=_ResponseBody(exchange, task),
        )

    async def _run(self, scope: dict[str, Any], exchange: _Exchange) -> None:
        try:
            await self.app(scope, exchange.receive, exchange.send)
        except BaseException as error:
            if not exchange.started.done():
                exchange.started.set_exception(
                    httpx.ReadError("the in-process app failed before answering")
                )
            else:
                exchange.body.put_nowait(error)
            if not isinstance(error, Exception):
                raise
        finally:
            if not exchange.started.done():
                exchange.started.set_exception(httpx.ReadError("the in-process app sent nothing"))
            exchange.body.put_nowait(_END)


def _scope(request: httpx.Request) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": request.method,
        "headers": [(key.lower(), value) for key, value in request.headers.raw],
        "scheme": request.url.scheme,
        "path": request.url.path,
        "raw_path": request.url.raw_path.split(b"?")[0],
        "query_string": request.url.query,
        "server": (request.url.host, request.url.port),
        "client": ("127.0.0.1", 0),
        "root_path": "",
    }
