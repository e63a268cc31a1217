"""The platform's own tools, by name, built for one run.

Agents name the tools they use (``Agent.tools``); a run gets those that make sense for it:
``search_knowledge_base`` only when the caller gave knowledge bases, ``recall`` and
``remember`` only when the memory gateway is reachable. Every one calls the gateways through
the run's typed clients, so it acts for the run's user.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from agentic_platform.agents.tools.base import FunctionTool, Tool
from agentic_platform.agents.tools.calculator import calculator
from agentic_platform.agents.tools.clock import current_time
from agentic_platform.agents.tools.weather import get_weather
from agentic_platform.errors import ConfigurationError
from agentic_platform.settings import AgentsSettings

if TYPE_CHECKING:
    from agentic_platform.memory.client import MemoryClient
    from agentic_platform.retrieval.client import RetrievalClient


@dataclass(frozen=True)
class ToolSources:
    """What the built-in tools of one run are made from."""

    agent: str
    knowledge_bases: Sequence[str]
    retrieval: Callable[[], RetrievalClient] | None
    """Opens (once) the run's retrieval client; None when retrieval is not reachable."""
    memory: MemoryClient | None
    http: httpx.AsyncClient | None = None
    """The process's client for tools that call the outside world (the weather API)."""
    settings: AgentsSettings | None = None


def _search(sources: ToolSources) -> Tool | None:
    if not sources.knowledge_bases or sources.retrieval is None:
        return None
    from agentic_platform.retrieval.tools import KnowledgeBaseSearchTool

    search = KnowledgeBaseSearchTool(sources.retrieval(), sources.knowledge_bases)
    return FunctionTool(search.name, search.description, search.parameters(), search.__call__)


def _memory(sources: ToolSources, name: str) -> Tool | None:
    if sources.memory is None:
        return None
    from agentic_platform.memory.tools import memory_tools

    found = [t for t in memory_tools(sources.memory, agent_id=sources.agent) if t.name == name]
    return found[0]


def _weather(sources: ToolSources) -> Tool | None:
    if sources.http is None or sources.settings is None:
        return None
    settings = sources.settings
    return get_weather(sources.http, settings.weather_url, settings.geocoding_url)


_BUILDERS: dict[str, Callable[[ToolSources], Tool | None]] = {
    "calculator": lambda _sources: calculator(),
    "current_time": lambda _sources: current_time(),
    "search_knowledge_base": _search,
    "recall": lambda sources: _memory(sources, "recall"),
    "remember": lambda sources: _memory(sources, "remember"),
    "get_weather": _weather,
}
BUILTIN_TOOLS: tuple[str, ...] = tuple(_BUILDERS)


def check_tool_names(agent: str, names: Iterable[str]) -> None:
    """Refuse, at start-up, an agent that names a tool the platform does not have."""
    unknown = [name for name in names if name not in _BUILDERS]
    if unknown:
        raise ConfigurationError(
            f"agent '{agent}' names unknown tools {unknown}: the built-in tools are "
            f"{', '.join(_BUILDERS)}"
        )


def builtin_tools(names: Iterable[str], sources: ToolSources) -> list[Tool]:
    """The named tools this run can offer (those it cannot are left out)."""
    tools = [_BUILDERS[name](sources) for name in names if name in _BUILDERS]
    return [tool for tool in tools if tool is not None]
