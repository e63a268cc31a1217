"""The tool box and the built-in tools, on their own: a tool can fail, hang or flood, and
the model gets an error text while the run goes on."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import orjson
import pytest

from agentic_platform.agents.tools.base import FunctionTool, ToolError
from agentic_platform.agents.tools.calculator import calculator, evaluate
from agentic_platform.agents.tools.clock import current_time
from agentic_platform.agents.tools.toolbox import ToolBox


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("2 ** 10", 1024),
        ("7 // 2 + 7 % 2", 4),
        ("-3 + +1", -2),
        ("sqrt(16) + abs(-2)", 6.0),
        ("max(1, 5, 3) - min(4, 2)", 3),
        ("round(pi, 2)", 3.14),
        ("1 / 4", 0.25),
    ],
)
def test_the_calculator_evaluates_arithmetic(expression: str, value: float) -> None:
    assert evaluate(expression) == value


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("__import__('os').system('echo hi')", "is not allowed"),
        ("open('/etc/passwd')", "is not allowed"),
        ("(1).__class__", "is not allowed"),
        ("x + 1", "is not allowed"),
        ("'a' * 3", "is not allowed"),
        ("[1, 2]", "is not allowed"),
        ("lambda: 1", "is not allowed"),
        ("1 / 0", "division by zero"),
        ("9 ** 9 ** 9", "exponents are limited"),
        ("10 ** 400", "too large"),
        ("sqrt(-1)", "cannot compute it"),
        ("1 +", "is not an arithmetic expression"),
        ("1" * 501, "longer than 500"),
    ],
)
def test_the_calculator_refuses_what_is_not_arithmetic(expression: str, message: str) -> None:
    with pytest.raises(ToolError, match=re.escape(message)):
        evaluate(expression)


def _box(*tools: FunctionTool, timeout: float = 1.0, max_chars: int = 100) -> ToolBox:
    return ToolBox(tools, timeout_seconds=timeout, max_output_chars=max_chars)


def _error(result: str) -> str:
    parsed: dict[str, Any] = orjson.loads(result)
    return str(parsed["error"])


async def test_a_tool_that_hangs_times_out_with_an_error_for_the_model() -> None:
    async def hang() -> str:
        await asyncio.sleep(60)
        return "never"

    box = _box(FunctionTool("hang", "hangs", {"type": "object"}, hang), timeout=0.2)
    outcome = await box.run("hang", "{}")
    assert outcome.is_error
    assert _error(outcome.result) == "the tool 'hang' did not answer within 0.2 seconds"
    assert 190 <= outcome.duration_ms < 2000


async def test_a_tool_that_returns_too_much_is_an_error() -> None:
    async def flood() -> str:
        return "x" * 101

    outcome = await _box(FunctionTool("flood", "floods", {}, flood)).run("flood", {})
    assert outcome.is_error
    assert "returned 101 characters, more than the 100 allowed" in _error(outcome.result)


async def test_failures_become_error_texts_without_internal_detail() -> None:
    async def broken() -> str:
        raise RuntimeError("secret detail /etc/shadow")

    box = _box(FunctionTool("broken", "fails", {}, broken), calculator())
    crashed = await box.run("broken", "{}")
    assert _error(crashed.result) == "the tool 'broken' failed (RuntimeError)"
    unknown = await box.run("nope", "{}")
    assert _error(unknown.result) == "there is no tool 'nope' (the tools are: broken, calculator)"
    not_json = await box.run("calculator", "{expression: 1}")
    assert _error(not_json.result) == "the arguments are not valid JSON: send a JSON object"
    not_object = await box.run("calculator", "[1]")
    assert _error(not_object.result) == "the arguments must be a JSON object"
    wrong = await box.run("calculator", '{"formula": "1"}')
    assert wrong.is_error and "could not use these arguments" in _error(wrong.result)
    fine = await box.run("calculator", '{"expression": "6 * 7"}')
    assert (fine.result, fine.is_error) == ("42", False)


async def test_current_time_knows_time_zones() -> None:
    box = _box(current_time(), max_chars=1000)
    oslo = await box.run("current_time", {"timezone": "Europe/Oslo"})
    assert not oslo.is_error and "Europe/Oslo" in oslo.result
    bad = await box.run("current_time", {"timezone": "Mars/Olympus"})
    assert bad.is_error and "unknown time zone 'Mars/Olympus'" in _error(bad.result)
