"""Runs the tools of one agent run, so that no tool can break the run.

Whatever happens in a call (arguments that are not JSON or do not fit, an unknown tool, an
exception, a hang past the per-tool timeout, a result larger than the output cap) becomes a
short error text the model reads as the tool's result and can recover from. Exception text
reaches the model only from errors meant for it (:class:`ToolError`, the platform's own
errors, argument errors); anything else is named by its type and logged here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from agentic_platform.agents.tools.base import Tool, ToolError
from agentic_platform.errors import PlatformError

logger = logging.getLogger("agentic_platform.agents")


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    result: str
    is_error: bool
    duration_ms: float


def _error(message: str) -> str:
    return orjson.dumps({"error": message}).decode()


class ToolBox:
    """The tools a run offers its model, with the limits every call runs under."""

    def __init__(
        self, tools: Iterable[Tool], *, timeout_seconds: float, max_output_chars: int
    ) -> None:
        self._tools = {tool.name: tool for tool in tools}
        self.timeout_seconds = timeout_seconds
        self.max_output_chars = max_output_chars

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __len__(self) -> int:
        return len(self._tools)

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def definitions(self) -> list[dict[str, Any]]:
        """Every tool as a chat-completions ``tools`` entry (empty when there are none)."""
        return [tool.definition() for tool in self._tools.values()]

    async def run(self, name: str, arguments: str | dict[str, Any]) -> ToolOutcome:
        """Call ``name`` with the model's arguments (JSON text or a dict); never raises
        except for the run's own cancellation."""
        started = time.perf_counter()
        result, is_error = await self._attempt(name, arguments)
        if not is_error and len(result) > self.max_output_chars:
            result, is_error = (
                _error(
                    f"the tool '{name}' returned {len(result)} characters, more than the "
                    f"{self.max_output_chars} allowed; ask for less (narrow the query)"
                ),
                True,
            )
        return ToolOutcome(result, is_error, round((time.perf_counter() - started) * 1000, 3))

    async def _attempt(self, name: str, arguments: str | dict[str, Any]) -> tuple[str, bool]:
        tool = self._tools.get(name)
        if tool is None:
            known = ", ".join(self._tools) or "none"
            return _error(f"there is no tool '{name}' (the tools are: {known})"), True
        parsed = _parse(arguments)
        if isinstance(parsed, str):
            return _error(parsed), True
        try:
            async with asyncio.timeout(self.timeout_seconds):
                return str(await tool.call(parsed)), False
        except TimeoutError:
            return _error(
                f"the tool '{name}' did not answer within {self.timeout_seconds:g} seconds"
            ), True
        except (ToolError, PlatformError) as error:
            text = error.message if isinstance(error, PlatformError) else str(error)
            return _error(f"the tool '{name}' failed: {text}"), True
        except (TypeError, ValueError) as error:
            return _error(f"the tool '{name}' could not use these arguments: {error}"), True
        except Exception as error:
            logger.warning("tool failed", exc_info=error, extra={"tool": name})
            return _error(f"the tool '{name}' failed ({type(error).__name__})"), True


def _parse(arguments: str | dict[str, Any]) -> dict[str, Any] | str:
    """The arguments as a dict, or why they cannot be one."""
    if isinstance(arguments, dict):
        return arguments
    if not arguments.strip():
        return {}
    try:
        parsed = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return "the arguments are not valid JSON: send a JSON object"
    if not isinstance(parsed, dict):
        return "the arguments must be a JSON object"
    return parsed
