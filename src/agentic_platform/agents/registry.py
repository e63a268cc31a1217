"""Which agents a process hosts: name → agent, built once at start-up.

Three sources, in order: the platform's built-in agents and workflows, the factories named
in ``agents.modules`` (``package.module:factory``), and the ``agentic_platform.agents``
entry points of installed packages (a team's own distribution). A factory is any callable
that takes no arguments and returns an :class:`~agentic_platform.agents.protocol.Agent` (a
class works). A bad path, a factory that fails, an object that is not an agent, a duplicate
name or an unknown tool stops the start-up with a :class:`ConfigurationError` that says
which; ``agents.only`` then keeps just the one agent this Deployment serves.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points

from agentic_platform.agents.protocol import Agent
from agentic_platform.agents.tools.builtin import check_tool_names
from agentic_platform.errors import ConfigurationError, NotFoundError
from agentic_platform.settings import AgentsSettings

AgentFactory = Callable[[], Agent]
ENTRY_POINT_GROUP = "agentic_platform.agents"
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


BUILTIN_AGENTS: dict[str, str] = {
    "diy-agent": "agentic_platform.agents.diy.agent:DiyAgent",
    "pydanticai-agent": "agentic_platform.agents.pydanticai.agent:PydanticAIAgent",
    "langgraph-chat": "agentic_platform.agents.langgraph.agent:LangGraphChat",
    "prompt-chaining": "agentic_platform.agents.workflows.prompt_chaining:PromptChaining",
    "routing": "agentic_platform.agents.workflows.routing:Routing",
    "parallelization": "agentic_platform.agents.workflows.parallelization:Parallelization",
    "parallelization-voting": (
        "agentic_platform.agents.workflows.parallelization:ParallelizationVoting"
    ),
    "orchestrator-workers": (
        "agentic_platform.agents.workflows.orchestrator_workers:OrchestratorWorkers"
    ),
    "evaluator-optimizer": (
        "agentic_platform.agents.workflows.evaluator_optimizer:EvaluatorOptimizer"
    ),
}
"""The agents and workflows that ship with the platform: name → ``module:factory`` (imported
only when a registry is built, since the framework agents' imports are slow)."""


def builtin_factories(only: str | None = None) -> dict[str, AgentFactory]:
    """The agents and workflows that ship with the platform (with ``only``, that one alone,
    if it is one of them: a Deployment of one agent imports nothing else)."""
    factories: dict[str, AgentFactory] = {}
    for name, path in BUILTIN_AGENTS.items():
        if only is not None and name != only:
            continue
        module_name, _, attribute = path.partition(":")
        factories[name] = getattr(importlib.import_module(module_name), attribute)
    return factories


class AgentRegistry:
    """The agents of this process, by name."""

    def __init__(self) -> None:
        self._agents: dict[str, Agent] = {}

    def add(self, agent: object, source: str) -> None:
        """Host ``agent`` (``source`` names where it came from, for error messages)."""
        if not isinstance(agent, Agent):
            raise ConfigurationError(
                f"{source} did not give an agent: it needs name, description, kind, tools, "
                "input_schema and an async run(ctx)"
            )
        if not _NAME.match(agent.name):
            raise ConfigurationError(
                f"{source}: agent name '{agent.name}' must be lowercase letters, digits and "
                "dashes (at most 63)"
            )
        if agent.kind not in ("agent", "workflow"):
            raise ConfigurationError(f"{source}: kind must be 'agent' or 'workflow'")
        if agent.name in self._agents:
            raise ConfigurationError(f"{source}: an agent named '{agent.name}' already exists")
        check_tool_names(agent.name, agent.tools)
        self._agents[agent.name] = agent

    def get(self, name: str) -> Agent:
        """The agent called ``name``; a 404 naming the ones there are if none is."""
        agent = self._agents.get(name)
        if agent is None:
            known = ", ".join(self._agents) or "none"
            raise NotFoundError(
                f"No agent '{name}' (this server runs: {known}).",
                code="agent_not_found",
                param="name",
            )
        return agent

    def __contains__(self, name: object) -> bool:
        return name in self._agents

    def __iter__(self) -> Iterator[Agent]:
        return iter(self._agents.values())

    def __len__(self) -> int:
        return len(self._agents)

    def keep_only(self, name: str) -> None:
        if name not in self._agents:
            known = dict.fromkeys([*BUILTIN_AGENTS, *self._agents])
            raise ConfigurationError(
                f"AGENTIC_AGENTS__ONLY names '{name}', which is not registered (there are: "
                f"{', '.join(known)})"
            )
        self._agents = {name: self._agents[name]}


def _build(factory: object, source: str) -> object:
    if not callable(factory):
        raise ConfigurationError(f"{source} is not callable")
    try:
        return factory()
    except ConfigurationError:
        raise
    except Exception as error:
        raise ConfigurationError(f"{source} failed: {type(error).__name__}: {error}") from None


def load_factory(path: str) -> object:
    """The object a ``package.module:attribute`` path names."""
    module_name, colon, attribute = path.partition(":")
    if not colon or not module_name or not attribute:
        raise ConfigurationError(
            f"AGENTIC_AGENTS__MODULES: '{path}' must look like 'package.module:factory'"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ConfigurationError(
            f"AGENTIC_AGENTS__MODULES: cannot import '{module_name}' ({error})"
        ) from None
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise ConfigurationError(
            f"AGENTIC_AGENTS__MODULES: '{module_name}' has no '{attribute}'"
        ) from None


def load_registry(settings: AgentsSettings) -> AgentRegistry:
    """The registry for this process (see the module docstring)."""
    registry = AgentRegistry()
    for name, factory in builtin_factories(settings.only).items():
        registry.add(_build(factory, f"built-in agent '{name}'"), f"built-in agent '{name}'")
    for path in settings.modules:
        source = f"agents.modules entry '{path}'"
        registry.add(_build(load_factory(path), source), source)
    if settings.entry_points:
        for point in entry_points(group=ENTRY_POINT_GROUP):
            source = f"entry point '{point.name}' ({point.value})"
            try:
                factory = point.load()
            except Exception as error:
                raise ConfigurationError(f"{source} cannot be loaded: {error}") from None
            registry.add(_build(factory, source), source)
    if settings.only is not None:
        registry.keep_only(settings.only)
    return registry
