"""Local provider, requests: an OpenAI chat request as a llama.cpp request.

SmolLM2's template has no tool support, and llama.cpp then silently drops ``tools`` from the
prompt, so the tools are described in the system message and earlier tool calls rendered as
JSON text. A forced tool choice or a ``response_format`` becomes a grammar
(:mod:`.local_grammar`); :class:`OutputPlan` says how the answer maps back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from typing import Any

from agentic_platform.errors import InvalidRequestError, UnsupportedFeatureError
from agentic_platform.llm_gateway.providers.local_grammar import json_grammar
from agentic_platform.llm_gateway.schemas import (
    AssistantMessage,
    ChatCompletionRequest,
    Message,
    NamedToolChoice,
    ResponseFormat,
    SystemMessage,
    Tool,
    ToolCall,
    ToolMessage,
    UserMessage,
    message_text,
)

DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful assistant. Give a short, correct, factual answer in one sentence."
)
"""What a plain text request with no system message of its own is told first. Asked "What is
the capital of France?" (default sampling, 256 tokens, seeds 1000-1039), SmolLM2 names Paris
in 24 answers of 40 without it and in 40 of 40 with it. A deployment sets another with
``options.system_prompt`` (``""`` for none)."""

# llama.cpp sampling options a client may add beside the OpenAI ones, with their bounds
# (llama.cpp reads them into 32-bit fields: a larger value would wrap around).
_LLAMA_EXTRAS: dict[str, tuple[float, float]] = {
    "top_k": (0, 2**31 - 1),
    "min_p": (0.0, 1.0),
    "repeat_penalty": (0.0, 100.0),
}


class OutputMode(Enum):
    TEXT = "text"  # a plain answer
    NAMED = "named"  # the output is the arguments of one named function
    CALLS = "calls"  # the output may be ("required": must be) a JSON tool call


@dataclass(frozen=True)
class OutputPlan:
    """How the model's text maps back to an OpenAI answer."""

    mode: OutputMode = OutputMode.TEXT
    tool_names: frozenset[str] = frozenset()
    named: str | None = None
    json_text: bool = False  # response_format asks for JSON content


def _tool_line(tool: Tool) -> str:
    function = tool.function
    spec: dict[str, Any] = {"name": function.name}
    if function.description:
        spec["description"] = function.description
    spec["parameters"] = function.parameters or {"type": "object", "properties": {}}
    return json.dumps(spec)


def _tool_prompt(tools: list[Tool], named: str | None) -> str:
    if named is not None:
        tool = next(t for t in tools if t.function.name == named)
        return (
            f"Call the function {named} now. Reply with only a JSON object holding its "
            f"arguments.\nFunction:\n{_tool_line(tool)}"
        )
    listing = "\n".join(_tool_line(tool) for tool in tools)
    return (
        "You can call functions. To call one, reply with only a JSON object "
        '{"name": <function name>, "arguments": <arguments object>} and nothing else.\n'
        f"Functions:\n{listing}"
    )


def _call_schema(tools: list[Tool]) -> dict[str, Any]:
    """JSON schema of one call to any of the tools, for ``tool_choice: required``."""
    variants = [
        {
            "type": "object",
            "properties": {
                "name": {"const": tool.function.name},
                "arguments": tool.function.parameters or {"type": "object"},
            },
            "required": ["name", "arguments"],
        }
        for tool in tools
    ]
    return variants[0] if len(variants) == 1 else {"anyOf": variants}


def _call_text(call: ToolCall) -> str:
    """An earlier tool call, written the way the model is told to call tools."""
    try:
        arguments: Any = json.loads(call.function.arguments)
    except ValueError:
        arguments = call.function.arguments
    return json.dumps({"name": call.function.name, "arguments": arguments})


def _render_message(message: Message) -> dict[str, Any]:
    """One message as plain text the ChatML template can print (it knows no tool fields)."""
    if isinstance(message, SystemMessage):
        return {"role": "system", "content": message_text(message.content)}
    if isinstance(message, UserMessage):
        if isinstance(message.content, list) and any(p.type != "text" for p in message.content):
            raise UnsupportedFeatureError("the local model reads text only", param="messages")
        return {"role": "user", "content": message_text(message.content)}
    if isinstance(message, AssistantMessage):
        parts = [message_text(message.content)] if message.content else []
        parts += [_call_text(call) for call in message.tool_calls or []]
        return {"role": "assistant", "content": "\n".join(parts)}
    assert isinstance(message, ToolMessage)
    return {"role": "tool", "content": message_text(message.content)}


def _with_system_note(messages: list[dict[str, Any]], note: str) -> list[dict[str, Any]]:
    if messages and messages[0]["role"] == "system":
        first = {"role": "system", "content": f"{messages[0]['content']}\n\n{note}"}
        return [first, *messages[1:]]
    return [{"role": "system", "content": note}, *messages]


def _has_system(request: ChatCompletionRequest) -> bool:
    return any(isinstance(message, SystemMessage) for message in request.messages)


def _plan(request: ChatCompletionRequest) -> OutputPlan:
    choice = request.tool_choice
    json_text = request.response_format is not None and request.response_format.type != "text"
    if not request.tools or choice == "none":
        return OutputPlan(json_text=json_text)
    names = frozenset(tool.function.name for tool in request.tools)
    if isinstance(choice, NamedToolChoice):
        return OutputPlan(OutputMode.NAMED, names, choice.function.name)
    return OutputPlan(OutputMode.CALLS, names, json_text=json_text)


def _constraint(request: ChatCompletionRequest, plan: OutputPlan) -> dict[str, Any]:
    """The constrained-decoding fields: forced tool calls win over ``response_format``."""
    tools = request.tools or []
    if plan.mode is OutputMode.NAMED:
        tool = next(t for t in tools if t.function.name == plan.named)
        return {"grammar": json_grammar(tool.function.parameters or {"type": "object"})}
    if plan.mode is OutputMode.CALLS and request.tool_choice == "required":
        return {"grammar": json_grammar(_call_schema(tools))}
    return _response_format(request.response_format)


def _response_format(response_format: ResponseFormat | None) -> dict[str, Any]:
    if response_format is None or response_format.type == "text":
        return {}
    spec = response_format.json_schema
    if response_format.type == "json_object" or spec is None or spec.schema_ is None:
        return {"grammar": json_grammar({"type": "object"})}
    return {"grammar": json_grammar(spec.schema_)}


def _llama_extras(request: ChatCompletionRequest) -> dict[str, Any]:
    """The llama.cpp sampling options the client added, each checked against its bounds."""
    extras: dict[str, Any] = {}
    for key, value in (request.model_extra or {}).items():
        bounds = _LLAMA_EXTRAS.get(key)
        if bounds is None:
            continue
        whole = key == "top_k"
        kind = int if whole else (int, float)
        if (
            isinstance(value, bool)
            or not isinstance(value, kind)
            or not bounds[0] <= value <= bounds[1]
        ):
            number = "an integer" if whole else "a number"
            raise InvalidRequestError(
                f"Invalid value for '{key}': it must be {number} from {bounds[0]:g} to "
                f"{bounds[1]:g}.",
                param=key,
            )
        extras[key] = value
    return extras


def build_payload(
    request: ChatCompletionRequest,
    context: int | None = None,
    system_prompt: str = DEFAULT_SYSTEM_PROMPT,
) -> tuple[dict[str, Any], OutputPlan]:
    """The llama.cpp request for ``request``, and how to read its answer back. ``context``
    is the tokens a request may use: a larger ``max_tokens`` is cut to it (llama.cpp stops at
    the end of the context anyway). ``system_prompt`` comes first in a plain text request
    that has no system message (tool calls and JSON answers have their own instructions)."""
    plan = _plan(request)
    messages = [_render_message(message) for message in request.messages]
    if plan.mode is not OutputMode.TEXT:
        messages = _with_system_note(messages, _tool_prompt(request.tools or [], plan.named))
    elif system_prompt and not plan.json_text and not _has_system(request):
        messages = [{"role": "system", "content": system_prompt}, *messages]
    payload = request.model_dump(
        exclude_none=True,
        include={"temperature", "top_p", "stop", "presence_penalty", "frequency_penalty"},
    )
    payload.update(_llama_extras(request))
    payload.update(_constraint(request, plan))
    payload["messages"] = messages
    payload["stream"] = True
    payload["stream_options"] = {"include_usage": True}
    payload["timings_per_token"] = True  # running token counts, for a stream cut short
    if request.seed is not None:
        payload["seed"] = request.seed % 2**32  # llama.cpp's seed is 32 bits; -1 stays random
    if request.output_limit is not None:
        limit = request.output_limit
        payload["max_tokens"] = limit if context is None else min(limit, context)
    return payload, plan
