"""Example bodies of the memory routes, shown in the OpenAPI document."""

from __future__ import annotations

from typing import Any

SESSION: dict[str, Any] = {"agent_id": "support-bot", "metadata": {"channel": "web"}}
MESSAGE: dict[str, Any] = {"role": "user", "content": "I moved to Lisbon last month."}
MEMORY: dict[str, Any] = {
    "text": "The user prefers answers in Portuguese.",
    "type": "preference",
    "agent_id": "support-bot",
}
MEMORY_UPDATE: dict[str, Any] = {"text": "The user prefers answers in English."}
SEARCH: dict[str, Any] = {
    "query": "where does the user live?",
    "top_k": 5,
    "filter": {"field": "agent_id", "op": "eq", "value": "support-bot"},
}
