"""Helpers for the agent tests: the ledger's chat rows of a user, and a scripted model that
fumbles its tool calls (``agent_checks:fumbling_reply``, named by the test provider)."""

from __future__ import annotations

from typing import Any

from agents_harness import Platform, User

from agentic_platform.llm_gateway.catalog import Deployment, ModelEntry
from agentic_platform.llm_gateway.schemas import ChatCompletionRequest, ToolMessage, message_text


async def chat_rows(platform: Platform, user: User) -> list[dict[str, Any]]:
    """The usage ledger's chat rows charged to ``user`` (recall's embeddings left out)."""
    await platform.state.metering.ledger.flush()
    page = await platform.admin_call(
        "GET", "/admin/v1/usage/records", params={"principal_id": user.id}
    )
    return [row for row in page["records"] if row["endpoint"] == "chat"]


def fumbling_reply(request: ChatCompletionRequest) -> str | dict[str, object]:
    """A scripted model that first calls a tool wrongly (arguments that are not JSON for
    "bad-json", an unknown tool for "teleport"), then answers with what it was told."""
    last = request.messages[-1]
    if isinstance(last, ToolMessage):
        return f"told: {message_text(last.content)}"
    if message_text(last.content) == "teleport":
        return {"tool_calls": [{"name": "teleport", "arguments": {"to": "Mars"}}]}
    return {"tool_calls": [{"name": "calculator", "arguments": '{"expression": '}]}


FUMBLING_MODEL = ModelEntry(
    alias="fumble-bot",
    capabilities={"chat", "streaming", "tools"},
    deployments=[
        Deployment(
            provider="test", model="fumble", options={"function": "agent_checks:fumbling_reply"}
        )
    ],
)
