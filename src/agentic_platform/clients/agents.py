"""A typed client for the agent API (``/agents/v1``): list, invoke, stream, run records.

The same class serves a terminal (``agentic agents run``), another service acting for a user
(:func:`agents_client_for`), and the LLM gateway's ``agent:<name>`` models.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
from pydantic import TypeAdapter

from agentic_platform.agents.events import AgentEvent
from agentic_platform.agents.schemas import AgentList, RunDetail, RunList, RunResult
from agentic_platform.auth.principal import Principal
from agentic_platform.clients.base import ApiClient, raise_for
from agentic_platform.errors import PlatformError
from agentic_platform.state import PlatformState

_EVENT = TypeAdapter[AgentEvent](AgentEvent)
_JSON = {"Content-Type": "application/json"}


class AgentsClientError(PlatformError):
    """The agent API answered with an error: its status, message, type, code and param."""


class AgentsClient(ApiClient):
    api = "/agents/v1"
    default_timeout = 600.0

    async def agents(self) -> AgentList:
        response = await self._http.get(str(self._http.base_url).rstrip("/"))
        raise_for(response, AgentsClientError)
        return AgentList.model_validate_json(response.content)

    async def invoke(self, agent: str, message: str | list[Any], **request: Any) -> RunResult:
        """Run ``agent`` on ``message``; ``request`` carries session_id, knowledge_base(s),
        metadata."""
        body = {"message": message, **request}
        response = await self._http.post(
            f"/{agent}/invoke", content=orjson.dumps(body), headers=_JSON
        )
        raise_for(response, AgentsClientError)
        return RunResult.model_validate_json(response.content)

    async def stream(
        self, agent: str, message: str | list[Any], **request: Any
    ) -> AsyncIterator[AgentEvent]:
        """The run's events as they happen. A refused run (unknown agent, bad input) raises
        before the first event; a run that fails ends with an ``error`` event."""
        body = orjson.dumps({"message": message, **request})
        async with self._http.stream(
            "POST", f"/{agent}/stream", content=body, headers=_JSON
        ) as response:
            if response.status_code >= 400:
                await response.aread()
                raise_for(response, AgentsClientError)
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    yield _EVENT.validate_json(line[len("data: ") :])

    async def runs(self, **filters: Any) -> RunList:
        """A page of run records (agent, status, session_id, user_id, limit, offset)."""
        params = {key: value for key, value in filters.items() if value is not None}
        response = await self._http.get("/runs", params=params)
        raise_for(response, AgentsClientError)
        return RunList.model_validate_json(response.content)

    async def run(self, run_id: str) -> RunDetail:
        response = await self._http.get(f"/runs/{run_id}")
        raise_for(response, AgentsClientError)
        return RunDetail.model_validate_json(response.content)


def agents_client_for(state: PlatformState, user: Principal) -> AgentsClient:
    """An agent API client whose runs are ``user``'s. Close it after use."""
    from agentic_platform.clients.internal import service_target
    from agentic_platform.dependencies import acting_headers

    base_url, transport = service_target(state, "agents")
    return AgentsClient(
        base_url, state.service_key, transport=transport, headers=acting_headers(user)
    )
