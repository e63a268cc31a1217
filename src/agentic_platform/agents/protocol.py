"""The agent contract: what the platform needs of an agent or a workflow to host it.

An agent is any object with these attributes and an async ``run(ctx)`` that returns the final
answer as text. Everything else it needs comes through the :class:`RunContext`: the
conversation, the user's knowledge bases, the model (``await ctx.chat(...)``), the tools
(``await ctx.call_tool(...)``), workflow steps (``async with ctx.step(name)``) and the
limits. An agent holds no per-run state on itself: one instance serves every run of the
process, concurrently.

A run fails by raising: a :class:`~agentic_platform.errors.PlatformError` (a gateway error
such as a 429 budget refusal keeps its status), :class:`StepLimitReached`, or anything else
(recorded as a failure of the agent without its text).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from agentic_platform.errors import PlatformError

if TYPE_CHECKING:
    from agentic_platform.agents.context import RunContext

AgentKind = Literal["agent", "workflow"]

TEXT_INPUT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "message": {
            "description": "What the user says: text, or OpenAI-style content parts.",
            "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}],
        }
    },
    "required": ["message"],
}
"""The input schema of an agent that takes one chat message (every built-in one)."""


@runtime_checkable
class Agent(Protocol):
    @property
    def name(self) -> str:
        """Unique, URL-safe (``[a-z0-9-]``): the path segment and the ``agent:<name>`` model."""
        ...

    @property
    def description(self) -> str: ...

    @property
    def kind(self) -> AgentKind: ...

    @property
    def tools(self) -> tuple[str, ...]:
        """Names of the built-in tools it may offer its model (see ``tools/builtin.py``)."""
        ...

    @property
    def input_schema(self) -> dict[str, Any]:
        """JSON schema of what it reads from the invocation (``TEXT_INPUT`` for a chat
        agent)."""
        ...

    async def run(self, ctx: RunContext) -> str:
        """Answer the new message in ``ctx``; the final text."""
        ...


class StepLimitReached(PlatformError):
    """The run made as many model calls as ``agents.max_steps`` allows without finishing."""

    status_code = 422
    error_type = "invalid_request_error"
    default_code = "step_limit_reached"


class RunTimedOut(PlatformError):
    """The run took longer than ``agents.run_timeout_seconds``."""

    status_code = 504
    error_type = "server_error"
    default_code = "run_timeout"


class AgentFailed(PlatformError):
    """The agent's own code raised something unexpected (its text stays in the log)."""

    status_code = 500
    error_type = "server_error"
    default_code = "agent_failed"


class AgentModelMissing(PlatformError):
    """The model the agent is set to call is not in the catalog: an operator's fix."""

    status_code = 503
    error_type = "server_error"
    default_code = "agent_model_unavailable"


class RunCancelled(PlatformError):
    """The run was stopped from outside: its caller went away (or the server stopped)."""

    status_code = 499
    error_type = "invalid_request_error"
    default_code = "cancelled"
