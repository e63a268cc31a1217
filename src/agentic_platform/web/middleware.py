"""Pure ASGI middleware (cheaper than Starlette's BaseHTTPMiddleware on the hot path).

Besides the request context it does two things for speed, both invisible to callers:

* **Direct endpoints.** FastAPI's routing, dependency solving and per-route wrappers cost
  about as much CPU as the gateway's own work on a chat completion. An endpoint marked with
  :func:`direct` takes only the ``Request`` (it resolves the caller, the gateway and the
  metering itself), so once FastAPI's router has answered a ``(method, path)`` with it, later
  requests to exactly that method and path call it here, with the app's own exception
  handlers. The router stays the authority: nothing is called directly that it has not
  routed to that endpoint first.
* **A settled heap.** After start-up the objects built so far (modules, models, the app) are
  moved out of the cyclic garbage collector's generations (``gc.freeze``) and the young
  generation is collected less often, so collections stop re-scanning a heap that never
  becomes garbage. This is the middleware's job only because it sees the lifespan.
"""

from __future__ import annotations

import gc
import inspect
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agentic_platform.errors import PayloadTooLargeError
from agentic_platform.logs import principal_id_var, request_id_var
from agentic_platform.telemetry.http import (
    TRACE_ID_HEADER,
    end_server_span,
    route_of,
    start_server_span,
)
from agentic_platform.telemetry.runtime import Telemetry
from agentic_platform.web.errors import error_response, unexpected_error

access_logger = logging.getLogger("agentic_platform.access")
logger = logging.getLogger("agentic_platform.http")

Endpoint = Callable[[Request], Awaitable[Response]]
E = TypeVar("E", bound=Endpoint)

_DIRECT_MARK = "__agentic_direct__"
_YOUNG_GENERATION_THRESHOLD = 5_000  # CPython's default is 700 allocations
_heap_settled = False


def direct(endpoint: E) -> E:
    """Mark a route endpoint the middleware may call without FastAPI's routing machinery.

    The endpoint must take only the ``Request`` (no dependencies, no path parameters) and
    return a ``Response``; anything it needs it fetches itself."""
    setattr(endpoint, _DIRECT_MARK, True)
    return endpoint


def settle_heap() -> None:
    """Freeze what start-up built and collect the young generation less often (once per
    process: later apps in the same process, as in tests, leave the collector alone)."""
    global _heap_settled
    if _heap_settled:
        return
    _heap_settled = True
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(_YOUNG_GENERATION_THRESHOLD, middle, old)


class RequestContextMiddleware:
    """Gives every request a unique id (``X-Request-ID`` on the response, the key of its usage
    record; a caller's own ``X-Request-ID`` is logged beside it), puts it in the logs, refuses
    oversized bodies with a 413, and logs one line per request. With telemetry on it also
    opens the request's server span (in the caller's trace when a ``traceparent`` came),
    answers its trace id in ``X-Trace-Id`` and records the request's duration."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, log_requests: bool) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.log_requests = log_requests
        self._direct: dict[tuple[str, str], Endpoint] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                send = _after_startup(send)
            await self.app(scope, receive, send)
            return
        request_id = os.urandom(16).hex()
        client_request_id, declared, traceparent = _read_headers(scope)
        token = request_id_var.set(request_id)
        principal_token = principal_id_var.set(None)
        started = time.perf_counter()
        status = 0
        headers = [(b"x-request-id", request_id.encode())]
        telemetry = _telemetry_of(scope)
        traced = _trace(telemetry, scope, traceparent, headers)

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), *headers]
            await send(message)

        try:
            if declared is not None and declared > self.max_body_bytes:
                await _reject_too_large(send_with_id, self.max_body_bytes)
                return
            await self._dispatch(scope, receive, send_with_id, lambda: status)
        except Exception as exc:
            if status:  # the answer has begun: only closing the connection can tell the client
                raise
            await _answer_unexpected(exc, scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            if self.log_requests:
                access_logger.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status or 500,
                        "duration_ms": round(elapsed * 1000, 3),
                        "client_request_id": client_request_id,
                    },
                )
            if telemetry is not None:
                self._observe(telemetry, scope, status or 500, elapsed, traced)
            principal_id_var.reset(principal_token)
            request_id_var.reset(token)

    async def _dispatch(
        self, scope: Scope, receive: Receive, send: Send, status: Callable[[], int]
    ) -> None:
        key = (scope["method"], scope["path"])
        endpoint = self._direct.get(key)
        if endpoint is not None:
            await _call_direct(endpoint, scope, self._limited(receive), send)
        else:
            await self.app(scope, self._limited(receive), send)
            if status() < 400:
                self._learn(key, scope)

    def _learn(self, key: tuple[str, str], scope: Scope) -> None:
        """Remember that the router answered ``key`` with a direct endpoint, if it did, and
        only while this is the innermost user middleware (a direct call skips what is inside
        it: the app's exception middleware and the router)."""
        endpoint = scope.get("endpoint")
        if endpoint is None or not getattr(endpoint, _DIRECT_MARK, False):
            return
        if scope.get("path_params"):
            return
        app = scope.get("app")
        stack = getattr(app, "user_middleware", None)
        if not stack or stack[-1].cls is not type(self) or scope.get("root_path"):
            return
        self._direct[key] = endpoint

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

    def _observe(
        self,
        telemetry: Telemetry,
        scope: Scope,
        status: int,
        elapsed: float,
        traced: tuple[Span, object] | None,
    ) -> None:
        direct = (scope["method"], scope["path"]) in self._direct
        route = route_of(scope, direct)
        if traced is not None:
            span, attached = traced
            end_server_span(span, scope["method"], status, route)
            otel_context.detach(attached)  # type: ignore[arg-type]
        if telemetry.metrics is not None:
            telemetry.metrics.http_request(scope["method"], route, status, elapsed)


def _after_startup(send: Send) -> Send:
    async def send_lifespan(message: Message) -> None:
        if message["type"] == "lifespan.startup.complete":
            settle_heap()
        await send(message)

    return send_lifespan


def _trace(
    telemetry: Telemetry | None,
    scope: Scope,
    traceparent: str | None,
    headers: list[tuple[bytes, bytes]],
) -> tuple[Span, object] | None:
    """Start the request's server span, make it current, and name its trace in the
    response's ``X-Trace-Id``."""
    tracer = telemetry.tracer if telemetry is not None else None
    if tracer is None:
        return None
    span = start_server_span(tracer, scope, traceparent)
    headers.append((TRACE_ID_HEADER, b"%032x" % span.get_span_context().trace_id))
    return span, otel_context.attach(trace.set_span_in_context(span))


def _telemetry_of(scope: Scope) -> Telemetry | None:
    """The running app's telemetry, when it is on (looked up per request: an app can be
    started more than once, as in tests)."""
    state = getattr(getattr(scope.get("app"), "state", None), "platform", None)
    telemetry: Telemetry | None = getattr(state, "telemetry", None)
    if telemetry is None or (telemetry.tracer is None and telemetry.metrics is None):
        return None
    return telemetry


async def _answer_unexpected(exc: Exception, scope: Scope, receive: Receive, send: Send) -> None:
    """A clean 500 in the error envelope for an error nothing else handled. Answering here,
    instead of letting the error reach the server, keeps the connection open for the client's
    next request; the log line carries the request id and the error's type and message."""
    logger.error("unhandled error", exc_info=exc)
    await error_response(unexpected_error())(scope, receive, send)


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


def _read_headers(scope: Scope) -> tuple[str | None, int | None, str | None]:
    """The caller's ``X-Request-ID`` (when sane), the declared ``Content-Length`` and the
    ``traceparent``, in one pass over the headers."""
    request_id: str | None = None
    length: int | None = None
    traceparent: str | None = None
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                length = None
        elif name == b"x-request-id":
            text: str = value.decode("latin-1")
            if 0 < len(text) <= 128 and text.isprintable():
                request_id = text
        elif name == b"traceparent":
            traceparent = value.decode("latin-1")
    return request_id, length, traceparent


async def _call_direct(endpoint: Endpoint, scope: Scope, receive: Receive, send: Send) -> None:
    """What FastAPI's route wrapper and Starlette's exception middleware do for an endpoint
    that takes only the request: call it, map an exception through the app's handlers (those
    for ``Exception`` and 500 stay with the outer error middleware, as in Starlette), send."""
    started = False

    async def sender(message: Message) -> None:
        nonlocal started
        if message["type"] == "http.response.start":
            started = True
        await send(message)

    request = Request(scope, receive, sender)
    try:
        response = await endpoint(request)
        await response(scope, receive, sender)
    except Exception as exc:
        handler = _exception_handler(scope.get("app"), exc)
        if handler is None or started:
            raise
        answer = handler(request, exc)
        if inspect.isawaitable(answer):
            answer = await answer
        await answer(scope, receive, sender)


def _exception_handler(app: Any, exc: Exception) -> Callable[..., Any] | None:
    handlers: dict[Any, Callable[..., Any]] = getattr(app, "exception_handlers", {})
    if isinstance(exc, HTTPException) and exc.status_code in handlers:
        return handlers[exc.status_code]
    for kind in type(exc).__mro__:
        if kind is Exception:
            return None
        if kind in handlers:
            return handlers[kind]
    return None
