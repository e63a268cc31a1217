"""The run's tool box as a PydanticAI toolset: every call goes through ``ctx.call_tool``.

So a tool called by PydanticAI is what it is for ``diy-agent``: bounded by the per-tool
timeout and output cap, recorded as a step and a tool call, sent out as
``tool_call_started``/``tool_call_finished`` events. PydanticAI checks nothing about the
arguments itself: the tool box gets them as the model wrote them and answers arguments that
are not JSON, or do not fit, with an error text the model can act on, as for ``diy-agent``.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic_ai import RunContext as AgentRunContext
from pydantic_ai.messages import ModelResponse
from pydantic_ai.tools import ToolDefinition
from pydantic_ai.toolsets import AbstractToolset, ToolsetTool

from agentic_platform.agents.context import RunContext


class AnyArguments:
    """Lets every call through to the tool box (which checks the arguments): JSON text that
    is not an object becomes ``{}``, and the call reads the model's own text instead."""

    def validate_json(self, input: str | bytes | bytearray, **_options: Any) -> Any:
        try:
            parsed = orjson.loads(input)
        except orjson.JSONDecodeError:
            return {}
        return parsed if isinstance(parsed, dict) else {}

    def validate_python(self, input: Any, **_options: Any) -> Any:
        return input if isinstance(input, dict) else {}


class ToolBoxToolset(AbstractToolset[None]):
    """The tools of one platform run."""

    def __init__(self, ctx: RunContext) -> None:
        self._ctx = ctx

    @property
    def id(self) -> str | None:
        return "platform-tools"

    async def get_tools(self, ctx: AgentRunContext[None]) -> dict[str, ToolsetTool[None]]:
        tools = {}
        for definition in self._ctx.tools.definitions():
            function = definition["function"]
            tool_def = ToolDefinition(
                name=function["name"],
                description=function.get("description"),
                parameters_json_schema=function.get("parameters") or {"type": "object"},
            )
            tools[tool_def.name] = ToolsetTool(
                toolset=self,
                tool_def=tool_def,
                max_retries=self._ctx.limits.max_steps,
                args_validator=AnyArguments(),
            )
        return tools

    async def call_tool(
        self,
        name: str,
        tool_args: dict[str, Any],
        ctx: AgentRunContext[None],
        tool: ToolsetTool[None],
    ) -> str:
        arguments = _as_written(ctx, ctx.tool_call_id) or tool_args
        return await self._ctx.call_tool(name, arguments, call_id=ctx.tool_call_id)


def _as_written(ctx: AgentRunContext[None], call_id: str | None) -> str | None:
    """The call's arguments as the model wrote them (JSON text), for the run record."""
    for message in reversed(ctx.messages):
        if isinstance(message, ModelResponse):
            for part in message.tool_calls:
                if part.tool_call_id == call_id and isinstance(part.args, str):
                    return part.args
            return None
    return None
