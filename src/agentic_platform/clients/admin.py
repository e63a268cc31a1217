"""A typed client for the admin API (``/admin/v1``): keys, principals, teams, plans, usage."""

from __future__ import annotations

from typing import Any

import orjson

from agentic_platform.clients.base import ApiClient, raise_for
from agentic_platform.clients.llm import GatewayClientError


class AdminClient(ApiClient):
    api = "/admin/v1"
    default_timeout = 30.0

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """JSON in, JSON out; an error answer raises with the platform's own message."""
        response = await self._http.request(method, path, **kwargs)
        raise_for(response, GatewayClientError)
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
