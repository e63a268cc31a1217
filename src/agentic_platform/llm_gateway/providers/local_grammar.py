"""JSON schemas as llama.cpp grammars for the local model: compact, and checked first.

The local provider constrains output by grammar: a forced tool call to the function's
parameters, ``response_format`` to its schema. llama.cpp compiles schemas with llguidance,
but only a grammar it is handed directly honours llguidance's JSON options, and those are
what keep a small model from pretty-printing: on SmolLM2 indentation took over a third of
the output tokens (and cut replies off at the token limit). So the schema becomes an
llguidance grammar with compact JSON (one line, ``", "`` and ``": "`` separators).

An object schema that lists its properties and says nothing about others gets
``additionalProperties: false`` (as llama.cpp's own schema converter does): otherwise a small
model invents keys until it runs out of tokens.

A grammar llama.cpp cannot compile is only logged there, and the model then writes
unconstrained text; so every grammar is compiled here first, and a schema that does not
compile is the caller's error (400), with llguidance's reason. Compiled schemas are cached:
a service sending the same schema on every call pays for the check once.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import orjson
from llguidance import LLMatcher

from agentic_platform.errors import UpstreamRequestError

COMPACT_JSON = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}


def json_grammar(schema: dict[str, Any]) -> str:
    """The llguidance grammar for ``schema`` (compact JSON unless the schema sets its own
    ``x-guidance`` options); raises :class:`UpstreamRequestError` when it does not compile."""
    closed = _closed(schema)
    options = closed if "x-guidance" in closed else {"x-guidance": COMPACT_JSON, **closed}
    return _checked(orjson.dumps(options).decode())


def _closed(node: Any) -> Any:
    """``node`` with ``additionalProperties: false`` on every object schema that lists its
    properties and leaves others open by omission."""
    if isinstance(node, list):
        return [_closed(item) for item in node]
    if not isinstance(node, dict):
        return node
    closed = {key: _closed(value) for key, value in node.items()}
    if isinstance(node.get("properties"), dict) and not (
        "additionalProperties" in node or "patternProperties" in node
    ):
        closed["additionalProperties"] = False
    return closed


@lru_cache(maxsize=256)
def _checked(schema_json: str) -> str:
    grammar = "%llguidance {}\nstart: %json " + schema_json
    error = LLMatcher.validate_grammar(grammar)
    if error:
        reason = error.strip().splitlines()[0].split(": ", 1)[-1]
        raise UpstreamRequestError(
            f"The JSON schema cannot be used to constrain the local model: {reason}",
            param="response_format",
            upstream_status=400,
        )
    return grammar
