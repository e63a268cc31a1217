"""The tool contract: what an agent offers its model and how a call is made.

A tool has a name, a description and a JSON schema of its arguments (together its
OpenAI-style ``definition()``), and an async ``call`` that takes the parsed arguments and
returns text for the model. A tool reports a problem the model can act on (a bad argument, an
unknown city) by raising :class:`ToolError` with a message written for the model; the
:class:`~agentic_platform.agents.tools.toolbox.ToolBox` turns that, and every other failure,
into an error text, so no tool can end a run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable


class ToolError(Exception):
    """A failure the model should read (the message is shown to it as the tool's result)."""


@runtime_checkable
class Tool(Protocol):
    """Something a model can call."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    def definition(self) -> dict[str, Any]:
        """The chat-completions ``tools`` entry: ``{"type": "function", "function": {...}}``."""
        ...

    async def call(self, arguments: dict[str, Any]) -> str:
        """Run on the model's (parsed) arguments; the text the model is given back."""
        ...


@dataclass(frozen=True)
class FunctionTool:
    """A tool made of an async function of keyword arguments returning text."""

    name: str
    description: str
    parameters: dict[str, Any]
    function: Callable[..., Awaitable[str]]

    def definition(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }

    async def call(self, arguments: dict[str, Any]) -> str:
        return await self.function(**arguments)
