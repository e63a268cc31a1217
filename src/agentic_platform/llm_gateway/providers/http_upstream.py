"""HTTP plumbing shared by the adapters that reach their model over HTTP (OpenAI-compatible
servers and Anthropic).

Both adapters need the same pooled session, timeout policy, server-sent-events framing and
mapping of HTTP failures onto :class:`~agentic_platform.errors.UpstreamError`; keeping that in
one place means retries and fallback behave identically whichever provider failed.

Timeouts: a whole answer must arrive within the deployment's ``timeout_seconds``; a stream
must connect and then never go quiet for longer than that (a long answer that keeps
producing tokens is not cut off).

Deployment options read here: ``max_connections`` (pool size, default 1000) and
``trust_env`` (honour ``HTTPS_PROXY``/``NO_PROXY`` and ``~/.netrc``, default false because
aiohttp re-reads them on every request).
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import AsyncGenerator, Mapping
from datetime import UTC
from typing import Any

import aiohttp
import orjson
from yarl import URL

from agentic_platform.errors import (
    UpstreamAuthError,
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamRequestError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from agentic_platform.llm_gateway.catalog import Deployment
from agentic_platform.llm_gateway.resilience import BAD_RESPONSE

_MAX_MESSAGE_CHARS = 500
_TRACEBACK = "Traceback (most recent call last)"
_USER_AGENT = "agentic-platform"


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """How long the upstream asks us to wait: OpenAI's ``retry-after-ms`` if present (it is
    the more precise), else ``Retry-After`` as delta-seconds or an HTTP date."""
    millis = _finite(headers.get("retry-after-ms"))
    if millis is not None:
        return max(millis / 1000, 0.0)
    value = headers.get("retry-after")
    if not value:
        return None
    seconds = _finite(value)
    if seconds is not None:
        return max(seconds, 0.0)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when.timestamp() - time.time(), 0.0)


def _finite(value: str | None) -> float | None:
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def error_details(body: bytes) -> dict[str, Any]:
    """The ``error`` object of an OpenAI (``{"error": {...}}``), Anthropic
    (``{"type": "error", "error": {...}}``) or Ollama (``{"error": "text"}``) error body;
    empty if the body is not one of those."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    if not isinstance(data, dict):
        return {}
    error = data.get("error")
    if isinstance(error, dict):
        return error
    if isinstance(error, str):
        return {"message": error}
    message = data.get("message") or data.get("detail")
    return {"message": message} if isinstance(message, str) else {}


class SSEDecoder:
    """Incremental server-sent-events framing: feed bytes as they arrive (a line may be split
    across reads), get back the ``data`` of each complete event. Comments, ``event:``, ``id:``
    and ``retry:`` lines are ignored; the adapters dispatch on the data itself."""

    __slots__ = ("_data", "_pending")

    def __init__(self) -> None:
        self._pending = b""
        self._data: list[bytes] = []

    def feed(self, piece: bytes) -> list[bytes]:
        if self._pending:
            piece = self._pending + piece
        lines = piece.split(b"\n")
        self._pending = lines.pop()
        events: list[bytes] = []
        for line in lines:
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line:
                if self._data:
                    events.append(b"\n".join(self._data))
                    self._data = []
            elif line.startswith(b"data:"):
                value = line[5:]
                self._data.append(value[1:] if value.startswith(b" ") else value)
        return events

    def flush(self) -> list[bytes]:
        """Events left when the body ends without a final blank line."""
        return self.feed(b"\n\n")


class HTTPUpstream:
    """One deployment's HTTP client: a single pooled keep-alive session, created lazily in the
    running event loop, and the platform's error mapping. Nothing is rebuilt per request."""

    def __init__(
        self, deployment: Deployment, *, headers: Mapping[str, str], secret: str | None
    ) -> None:
        self.name = deployment.name
        self._headers = {"Content-Type": "application/json", "User-Agent": _USER_AGENT}
        self._headers.update(headers)
        self._secret = secret
        seconds = deployment.timeout_seconds
        self._seconds = seconds
        self._whole = aiohttp.ClientTimeout(total=seconds)
        self._streaming = aiohttp.ClientTimeout(total=None, connect=seconds, sock_read=seconds)
        self._max_connections = int(deployment.options.get("max_connections", 1000))
        self._trust_env = bool(deployment.options.get("trust_env", False))
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None or session.closed:
            session = self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections),
                headers=self._headers,
                trust_env=self._trust_env,
            )
        return session

    async def post_json(self, url: URL, body: bytes) -> Any:
        """POST a JSON body and return the decoded JSON answer, or raise an UpstreamError."""
        try:
            async with self._client().post(url, data=body, timeout=self._whole) as response:
                payload = await response.read()
                if response.status >= 400:
                    raise self.status_error(response.status, response.headers, payload)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise self.transport_error(exc) from exc
        return self.decode(payload)

    async def post_events(self, url: URL, body: bytes) -> AsyncGenerator[bytes, None]:
        """POST a JSON body and yield the data of each server-sent event until the upstream
        ends the body. If the consumer stops early (cancellation, a client disconnect,
        ``aclose()``) the upstream connection is closed, which aborts the generation."""
        response: aiohttp.ClientResponse | None = None
        started = finished = False
        try:
            response = await self._client().post(url, data=body, timeout=self._streaming)
            if response.status >= 400:
                payload = await response.read()
                raise self.status_error(response.status, response.headers, payload)
            decoder = SSEDecoder()
            async for piece in response.content.iter_any():
                for data in decoder.feed(piece):
                    started = True
                    yield data
            for data in decoder.flush():
                yield data
            finished = True
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise self.transport_error(exc, streaming=started) from exc
        finally:
            if response is not None:
                if finished:
                    response.release()  # body fully read: the connection goes back to the pool
                else:
                    response.close()

    def decode(self, data: bytes) -> Any:
        """orjson-decode an upstream payload; garbage becomes an UpstreamError."""
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise self.unreadable() from exc

    def unreadable(self) -> UpstreamError:
        """The upstream answered 2xx with something that is not the expected shape."""
        return UpstreamError(
            f"{self.name}: the upstream returned a response the gateway could not read",
            code=BAD_RESPONSE,
        )

    def cut_short(self) -> UpstreamError:
        """The stream ended cleanly but before the upstream said the answer was complete."""
        return UpstreamUnavailableError(
            f"{self.name}: the upstream ended the stream before the answer was complete"
        )

    def status_error(self, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        """Map an HTTP error status to the platform's error; 401/403 never echo upstream text
        (it can quote the key)."""
        retry_after = retry_after_seconds(headers)
        if status in (401, 403):
            return UpstreamAuthError(
                f"{self.name}: the upstream rejected the gateway's credentials "
                f"(HTTP {status}); check the deployment's API key",
                upstream_status=status,
            )
        details = error_details(body)
        said = self._clean(details.get("message"))
        suffix = f": {said}" if said else ""
        if status == 429:
            wait = f"; retry after {retry_after:g}s" if retry_after is not None else ""
            return UpstreamRateLimitError(
                f"{self.name}: the upstream is rate-limiting requests (HTTP 429){wait}",
                retry_after=retry_after,
                upstream_status=status,
                headers={"Retry-After": str(math.ceil(retry_after))} if retry_after else None,
            )
        if status == 408:
            return UpstreamTimeoutError(
                f"{self.name}: the upstream timed out (HTTP 408)", upstream_status=status
            )
        if status >= 500:
            return UpstreamUnavailableError(
                f"{self.name}: the upstream is unavailable (HTTP {status}){suffix}",
                retry_after=retry_after,
                upstream_status=status,
            )
        param = details.get("param")
        return UpstreamRequestError(
            f"{self.name} rejected the request (HTTP {status}){suffix}",
            param=param if isinstance(param, str) else None,
            upstream_status=status,
        )

    def event_error(self, error: Any) -> UpstreamError:
        """Map an error the upstream reports inside a stream (after a 200) by its type."""
        details = error if isinstance(error, dict) else {"message": error}
        kind = f"{details.get('type') or ''} {details.get('code') or ''}".lower()
        said = self._clean(details.get("message")) or "no details given"
        message = f"{self.name}: the upstream failed mid-stream: {said}"
        if "rate_limit" in kind:
            return UpstreamRateLimitError(message)
        if "auth" in kind or "permission" in kind:
            return UpstreamAuthError(
                f"{self.name}: the upstream rejected the gateway's credentials"
            )
        if "invalid_request" in kind or "not_found" in kind or "too_large" in kind:
            return UpstreamRequestError(message)
        if "timeout" in kind:
            return UpstreamTimeoutError(message)
        return UpstreamUnavailableError(message)

    def transport_error(self, exc: BaseException, *, streaming: bool = False) -> UpstreamError:
        """A timeout or a failed/broken connection; the exception text stays out of it.
        ``streaming``: events had arrived, so a timeout means the upstream went quiet."""
        if isinstance(exc, TimeoutError):
            if isinstance(exc, aiohttp.ConnectionTimeoutError):
                what = "could not connect to the upstream within"
            elif streaming:
                what = "the upstream stopped sending for more than"
            else:
                what = "the upstream did not answer within"
            return UpstreamTimeoutError(f"{self.name}: {what} {self._seconds:g}s")
        if isinstance(exc, aiohttp.ClientConnectorError):
            reason = f"cannot connect to {exc.host}:{exc.port}"
        elif isinstance(exc, aiohttp.ServerDisconnectedError):
            reason = "the upstream closed the connection"
        elif isinstance(exc, aiohttp.ClientPayloadError):
            reason = "the response was cut off"
        else:
            reason = type(exc).__name__
        return UpstreamUnavailableError(f"{self.name}: could not reach the upstream ({reason})")

    def _clean(self, said: Any) -> str:
        """Upstream text made safe to show: no key, no traceback, bounded length."""
        if not isinstance(said, str):
            return ""
        text = said.split(_TRACEBACK, 1)[0].strip()
        if self._secret:
            text = text.replace(self._secret, "***")
        if len(text) > _MAX_MESSAGE_CHARS:
            text = text[:_MAX_MESSAGE_CHARS].rstrip() + "..."
        return text

    async def aclose(self) -> None:
        """Close the pooled connections; a later request would open a new session."""
        if self._session is not None:
            await self._session.close()
            self._session = None
