"""Notice an MCP client going away while its request is being answered.

The MCP SDK answers a JSON-answered request without listening to the connection, so a run
behind an ``agent_<name>`` tool would go on after its caller left. :class:`HangUp` reads the
request body for the SDK, then listens to the connection itself: the SDK reads the buffered
body from :meth:`HangUp.receive`, and :meth:`HangUp.disconnected` answers once the client has
gone, in the shape :func:`~agentic_platform.web.disconnect.cancel_on_disconnect` waits for.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.types import Message, Receive

_GONE: Message = {"type": "http.disconnect"}


class HangUp:
    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._body: list[Message] = []
        self._gone = asyncio.Event()

    @classmethod
    @asynccontextmanager
    async def watching(cls, receive: Receive) -> AsyncIterator[HangUp]:
        """Read the body, then listen for the client leaving until the block ends."""
        hang_up = cls(receive)
        await hang_up._read_body()
        listener = asyncio.create_task(hang_up._listen(), name="mcp-hang-up")
        try:
            yield hang_up
        finally:
            listener.cancel()

    async def _read_body(self) -> None:
        while True:
            message = await self._receive()
            self._body.append(message)
            if message["type"] == "http.disconnect":
                self._gone.set()
                return
            if not message.get("more_body", False):
                return

    async def _listen(self) -> None:
        while not self._gone.is_set():
            if (await self._receive())["type"] == "http.disconnect":
                self._gone.set()

    async def receive(self) -> Message:
        """The request as the app reads it: the body, then the client leaving."""
        if self._body:
            return self._body.pop(0)
        return await self.disconnected()

    async def disconnected(self) -> Message:
        """Answers ``http.disconnect`` once the client has gone."""
        await self._gone.wait()
        return _GONE
