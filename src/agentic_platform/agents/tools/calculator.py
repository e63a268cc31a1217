"""``calculator``: arithmetic for the model, by walking the expression's syntax tree.

Nothing is ever handed to ``eval``: the expression is parsed with :mod:`ast` and only
numbers, the arithmetic operators, parentheses and a fixed set of math functions and
constants are evaluated; anything else (names, attributes, calls of other things, strings)
is refused with a message. Sizes are bounded so a short expression cannot hang the process:
exponents, factorials and the length of the expression itself.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

from agentic_platform.agents.tools.base import FunctionTool, ToolError

NAME = "calculator"
MAX_EXPRESSION_CHARS = 500
MAX_EXPONENT = 10_000
MAX_MAGNITUDE = 1e300
"""Integers past this are refused before they grow (a power tower would take forever)."""

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs,
    "round": round,
    "min": min,
    "max": max,
    "sqrt": math.sqrt,
    "exp": math.exp,
    "log": math.log,
    "log10": math.log10,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "floor": math.floor,
    "ceil": math.ceil,
}
_CONSTANTS = {"pi": math.pi, "e": math.e, "tau": math.tau}


def evaluate(expression: str) -> int | float:
    """The value of an arithmetic expression; :class:`ToolError` says what is wrong."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise ToolError(f"the expression is longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError:
        raise ToolError(f"'{expression}' is not an arithmetic expression") from None
    try:
        return _value(tree.body)
    except ZeroDivisionError:
        raise ToolError("division by zero") from None
    except (OverflowError, ValueError) as error:
        raise ToolError(f"cannot compute it: {error}") from None


def _value(node: ast.expr) -> int | float:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return _checked(node.value)
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _checked(_UNARY[type(node.op)](_value(node.operand)))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _value(node.left), _value(node.right)
        if isinstance(node.op, ast.Pow):
            _check_power(left, right)
        return _checked(_BINARY[type(node.op)](left, right))
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCTIONS
        and not node.keywords
    ):
        arguments = [_value(argument) for argument in node.args]
        return _checked(_FUNCTIONS[node.func.id](*arguments))
    raise ToolError(
        f"'{ast.unparse(node)}' is not allowed: use numbers, + - * / // % **, parentheses, "
        f"{', '.join(_FUNCTIONS)} and {', '.join(_CONSTANTS)}"
    )


def _check_power(base: int | float, exponent: int | float) -> None:
    if abs(exponent) > MAX_EXPONENT:
        raise ToolError(f"exponents are limited to {MAX_EXPONENT}")
    if isinstance(base, int) and abs(base) > 1 and exponent * math.log10(abs(base)) > 300:
        raise ToolError("the number is too large")


def _checked(value: Any) -> int | float:
    if isinstance(value, complex):
        raise ToolError("the result is a complex number")
    if not isinstance(value, int | float):
        raise ToolError("the result is not a number")
    if isinstance(value, int) and abs(value) > MAX_MAGNITUDE:
        raise ToolError("the number is too large")
    return value


async def _calculate(expression: str) -> str:
    value = evaluate(expression)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    return str(value)


def calculator() -> FunctionTool:
    return FunctionTool(
        NAME,
        "Evaluate an arithmetic expression exactly, e.g. '(17 * 23) + sqrt(2) / 3'. Use it "
        "for any calculation instead of working it out yourself.",
        {
            "type": "object",
            "properties": {
                "expression": {
                    "type": "string",
                    "description": "Numbers, + - * / // % ** and parentheses; functions "
                    f"{', '.join(_FUNCTIONS)}; constants {', '.join(_CONSTANTS)}.",
                }
            },
            "required": ["expression"],
            "additionalProperties": False,
        },
        _calculate,
    )
