"""A typed client for the admin API (``/admin/v1``): keys, principals, teams, plans, usage."""

from __future__ import annotations

import contextlib
from typing import Any

import httpx
import orjson

from agentic_platform.clients.llm import GatewayClientError


class AdminClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/admin/v1",
            headers={"Authorization": f"Bearer {api_key}"},
            transport=transport,
            timeout=timeout,
        )

    async def __aenter__(self) -> AdminClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self._http.aclose()

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """JSON in, JSON out; an error answer raises with the platform's own message."""
        response = await self._http.request(method, path, **kwargs)
        if response.status_code >= 400:
            message = f"HTTP {response.status_code}"
            with contextlib.suppress(orjson.JSONDecodeError, KeyError, TypeError):
                message = str(orjson.loads(response.content)["error"]["message"])
            error = GatewayClientError(message)
            error.status_code = response.status_code
            raise error
        if not response.content:
            return None
        if response.headers.get("content-type", "").startswith("text/csv"):
            return response.text
        return orjson.loads(response.content)

    async def create_key(self, **spec: Any) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("POST", "/keys", json=spec)
        return result

    async def list_keys(self, **params: Any) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self.request("GET", "/keys", params=params)
        return result

    async def revoke_key(self, key_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("POST", f"/keys/{key_id}/revoke")
        return result

    async def rotate_key(self, key_id: str, grace_seconds: float = 0) -> dict[str, Any]:
        result: dict[str, Any] = await self.request(
            "POST", f"/keys/{key_id}/rotate", json={"grace_seconds": grace_seconds}
        )
        return result
