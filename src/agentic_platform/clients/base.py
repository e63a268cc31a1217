"""What every typed client of the platform shares: one httpx client on one API's path, as one
API key (plus any headers, e.g. a service's ``X-Agentic-Act-As``), over the network or
in-process (an httpx ``ASGITransport``), the platform's error envelope raised as an
exception, and, given a tracer, a client span and a ``traceparent`` on every call."""

from __future__ import annotations

from typing import ClassVar, Self

import httpx
import orjson
from opentelemetry.trace import Tracer

from agentic_platform.errors import PlatformError
from agentic_platform.telemetry.http import TracedTransport


def raise_for(response: httpx.Response, error: type[PlatformError]) -> None:
    """Raise ``error`` with the answer's status, message, type, code and param if ``response``
    failed (its body must have been read)."""
    if response.status_code < 400:
        return
    message, code, param, kind = f"HTTP {response.status_code}", None, None, None
    try:
        found = orjson.loads(response.content)["error"]
        message, code, param = str(found["message"]), found.get("code"), found.get("param")
        kind = found.get("type")
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        pass
    failure = error(message, code=code, param=param)
    failure.status_code = response.status_code
    if isinstance(kind, str):
        failure.error_type = kind
    raise failure


class ApiClient:
    """One API of the platform (``api``, e.g. ``/memory/v1``) for one API key."""

    api: ClassVar[str]
    default_timeout: ClassVar[float] = 30.0

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float | None = None,
        headers: dict[str, str] | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        if tracer is not None:
            transport = TracedTransport(transport or httpx.AsyncHTTPTransport(), tracer)
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + self.api,
            headers={"Authorization": f"Bearer {api_key}", **(headers or {})},
            transport=transport,
            timeout=self.default_timeout if timeout is None else timeout,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()
