"""Pure ASGI middleware (cheaper than Starlette's BaseHTTPMiddleware on the hot path)."""

from __future__ import annotations

import logging
import time
import uuid

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agentic_platform.errors import PayloadTooLargeError
from agentic_platform.logs import request_id_var

access_logger = logging.getLogger("agentic_platform.access")


class RequestContextMiddleware:
    """Gives every request a unique id (``X-Request-ID`` on the response, the key of its usage
    record; a caller's own ``X-Request-ID`` is logged beside it), puts it in the logs, refuses
    oversized bodies with a 413, and logs one line per request."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, log_requests: bool) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        client_request_id = _incoming_request_id(scope)
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        try:
            declared = _content_length(scope)
            if declared is not None and declared > self.max_body_bytes:
                await _reject_too_large(send_with_id, self.max_body_bytes)
                return
            await self.app(scope, self._limited(receive), send_with_id)
        finally:
            if self.log_requests:
                access_logger.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                        "client_request_id": client_request_id,
                    },
                )
            request_id_var.reset(token)

    def _limited(self, receive: Receive) -> Receive:
        received = 0
        limit = self.max_body_bytes

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLargeError(_too_large_message(limit))
            return message

        return limited_receive


def _too_large_message(limit: int) -> str:
    return f"The request body is larger than the limit of {limit} bytes."


async def _reject_too_large(send: Send, limit: int) -> None:
    body = orjson.dumps(PayloadTooLargeError(_too_large_message(limit)).to_body())
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text: str = value.decode("latin-1")
            if 0 < len(text) <= 128 and text.isprintable():
                return text
    return None


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
