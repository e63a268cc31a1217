"""Translation between the canonical OpenAI shapes and Amazon Bedrock's wire formats.

Everything here is pure (no I/O, no boto3), so the adapter in ``bedrock.py`` only moves bytes
and threads, and every rule below can be read in one place. This module builds the requests;
:mod:`bedrock_answer` reads the answers back.

* Converse has no system *messages*: system and developer messages become top-level
  ``system`` blocks, in order, wherever they appear in the conversation.
* Converse needs strictly alternating user/assistant turns, so tool results (OpenAI ``tool``
  messages) become ``toolResult`` blocks of a *user* turn and consecutive same-role messages
  are merged into one turn.
* Bedrock refuses ``toolUse``/``toolResult`` blocks unless ``toolConfig`` is sent. When the
  request sends no tools (or ``tool_choice: none``, which must stop the model calling tools)
  but its history holds tool calls, those blocks are rewritten as plain text, so the model
  still sees what happened and cannot call anything.
* Images must be inline: ``data:`` URLs become image bytes; links are refused, because the
  gateway does not fetch arbitrary URLs on a caller's behalf.
* ``response_format`` (``json_schema`` or ``json_object``) has no portable Converse
  equivalent, so it is emulated with one forced tool whose input schema is the requested
  schema; the tool's input is returned as the message content with ``finish_reason: stop``.
  Combining it with the caller's own tools is refused, since the forced tool would prevent
  the model from calling them. Forced tool choice needs a model that supports it (Claude,
  Nova, Mistral Large); others answer with a ValidationException.
* OpenAI options Converse lacks (``seed``, penalties, ``parallel_tool_calls``, ``logprobs``,
  tool ``strict``) are not forwarded; model-specific fields go through the deployment's
  ``additional_model_request_fields`` option instead.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agentic_platform.errors import (
    InvalidRequestError,
    UnsupportedFeatureError,
)
from agentic_platform.llm_gateway.schemas import (
    AssistantMessage,
    ChatCompletionRequest,
    ContentPart,
    ImagePart,
    Message,
    NamedToolChoice,
    SystemMessage,
    TextPart,
    Tool,
    ToolCall,
    ToolMessage,
    UserMessage,
    message_text,
)

Wire = dict[str, Any]

IMAGE_FORMATS = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
}

_TOOL_NAME_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")


# --- request ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ConverseCall:
    """A Converse request body, plus what is needed to read its answer back."""

    params: Wire
    response_tool: str | None = None
    """Name of the forced tool that emulates ``response_format``, if any."""


def converse_request(
    request: ChatCompletionRequest,
    model_id: str,
    extra_fields: Mapping[str, Any] | None = None,
) -> ConverseCall:
    """The Converse (or ConverseStream) keyword arguments for an OpenAI-shaped request."""
    response_tool = _response_tool(request)
    system, turns = conversation(request.messages)
    tool_config = _tool_config(request, response_tool)
    if tool_config is None and _has_tool_blocks(turns):
        turns = [_without_tool_blocks(turn) for turn in turns]
    params: Wire = {"modelId": model_id, "messages": turns}
    if system:
        params["system"] = system
    inference = _inference_config(request)
    if inference:
        params["inferenceConfig"] = inference
    if tool_config is not None:
        params["toolConfig"] = tool_config
    if extra_fields:
        params["additionalModelRequestFields"] = dict(extra_fields)
    name = response_tool["toolSpec"]["name"] if response_tool else None
    return ConverseCall(params=params, response_tool=name)


def conversation(messages: Sequence[Message]) -> tuple[list[Wire], list[Wire]]:
    """``system`` blocks and alternating turns; empty messages are dropped, since Bedrock
    rejects blank text blocks, and same-role neighbours are merged."""
    system: list[Wire] = []
    turns: list[Wire] = []
    for message in messages:
        if isinstance(message, SystemMessage):
            system.extend(_text_blocks(message.content))
            continue
        role, blocks = _turn(message)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return system, turns


def _turn(message: UserMessage | AssistantMessage | ToolMessage) -> tuple[str, list[Wire]]:
    if isinstance(message, UserMessage):
        return "user", _user_blocks(message.content)
    if isinstance(message, AssistantMessage):
        return "assistant", _assistant_blocks(message)
    return "user", [_tool_result_block(message)]


def _text_blocks(content: str | Sequence[TextPart] | None) -> list[Wire]:
    if content is None:
        return []
    texts = [content] if isinstance(content, str) else [part.text for part in content]
    return [{"text": text} for text in texts if text]


def _user_blocks(content: str | Sequence[ContentPart]) -> list[Wire]:
    if isinstance(content, str):
        return _text_blocks(content)
    blocks: list[Wire] = []
    for part in content:
        if isinstance(part, ImagePart):
            blocks.append({"image": image_block(part.image_url.url)})
        elif part.text:
            blocks.append({"text": part.text})
    return blocks


def image_block(url: str) -> Wire:
    """A Converse image from a base64 ``data:`` URL; anything else is refused clearly."""
    if not url.startswith("data:"):
        raise UnsupportedFeatureError(
            "Bedrock models take images inline only: send the image as a base64 data URL "
            "(data:image/png;base64,...) instead of a link",
            param="messages",
        )
    header, _, data = url[len("data:") :].partition(",")
    media_type, *attributes = header.split(";")
    image_format = IMAGE_FORMATS.get(media_type.strip().lower())
    if image_format is None:
        raise UnsupportedFeatureError(
            f"image type '{media_type or 'unknown'}' is not supported by Bedrock: "
            "use png, jpeg, gif or webp",
            param="messages",
        )
    if "base64" not in attributes:
        raise UnsupportedFeatureError(
            "image data URLs must be base64-encoded (data:image/png;base64,...)",
            param="messages",
        )
    try:
        image = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        image = b""
    if not image:
        raise InvalidRequestError("an image data URL holds no valid base64 data", param="messages")
    return {"format": image_format, "source": {"bytes": image}}


def _assistant_blocks(message: AssistantMessage) -> list[Wire]:
    blocks = _text_blocks(message.content)
    for call in message.tool_calls or []:
        blocks.append(
            {
                "toolUse": {
                    "toolUseId": call.id,
                    "name": call.function.name,
                    "input": _arguments(call),
                }
            }
        )
    return blocks


def _arguments(call: ToolCall) -> Any:
    """Converse carries tool input as a JSON document, not a string, so it must parse."""
    try:
        return json.loads(call.function.arguments.strip() or "{}")
    except json.JSONDecodeError:
        raise InvalidRequestError(
            f"the arguments of tool call '{call.id}' are not valid JSON, "
            "which Bedrock needs to replay the call",
            param="messages",
        ) from None


def _tool_result_block(message: ToolMessage) -> Wire:
    text = message_text(message.content)
    return {
        "toolResult": {
            "toolUseId": message.tool_call_id,
            "content": [{"text": text}] if text else [],
        }
    }


def _has_tool_blocks(turns: Iterable[Wire]) -> bool:
    return any(
        "toolUse" in block or "toolResult" in block for turn in turns for block in turn["content"]
    )


def _without_tool_blocks(turn: Wire) -> Wire:
    """The turn with tool calls and results rendered as text (see the module docstring)."""
    return {"role": turn["role"], "content": [_block_as_text(b) for b in turn["content"]]}


def _block_as_text(block: Wire) -> Wire:
    if "toolUse" in block:
        use = block["toolUse"]
        return {"text": f"[called tool {use['name']} with {json.dumps(use['input'])}]"}
    if "toolResult" in block:
        result = block["toolResult"]
        text = "".join(item.get("text", "") for item in result["content"])
        return {"text": f"[result of tool call {result['toolUseId']}: {text}]"}
    return block


def _inference_config(request: ChatCompletionRequest) -> Wire:
    config: Wire = {}
    if request.output_limit is not None:
        config["maxTokens"] = request.output_limit
    if request.temperature is not None:
        config["temperature"] = request.temperature
    if request.top_p is not None:
        config["topP"] = request.top_p
    stops = [stop for stop in request.stop_sequences if stop]
    if stops:
        config["stopSequences"] = stops
    return config


def _tool_config(request: ChatCompletionRequest, response_tool: Wire | None) -> Wire | None:
    if response_tool is not None:
        name = response_tool["toolSpec"]["name"]
        return {"tools": [response_tool], "toolChoice": {"tool": {"name": name}}}
    if not request.tools or request.tool_choice == "none":
        return None
    config: Wire = {"tools": [_tool_spec(tool) for tool in request.tools]}
    if request.tool_choice == "auto":
        config["toolChoice"] = {"auto": {}}
    elif request.tool_choice == "required":
        config["toolChoice"] = {"any": {}}
    elif isinstance(request.tool_choice, NamedToolChoice):
        config["toolChoice"] = {"tool": {"name": request.tool_choice.function.name}}
    return config


def _tool_spec(tool: Tool) -> Wire:
    function = tool.function
    schema = function.parameters or {"type": "object", "properties": {}}
    spec: Wire = {"name": function.name, "inputSchema": {"json": schema}}
    if function.description:
        spec["description"] = function.description
    return {"toolSpec": spec}


def _response_tool(request: ChatCompletionRequest) -> Wire | None:
    """The forced tool emulating ``response_format`` (see the module docstring)."""
    response_format = request.response_format
    if response_format is None or response_format.type == "text":
        return None
    if request.tools and request.tool_choice != "none":
        raise UnsupportedFeatureError(
            "on Bedrock, response_format json_schema/json_object is emulated with a forced "
            "tool and cannot be combined with the request's own tools",
            param="response_format",
        )
    spec = response_format.json_schema
    if response_format.type == "json_schema" and spec is not None:
        name = _TOOL_NAME_UNSAFE.sub("_", spec.name)[:64] or "response"
        schema = spec.schema_ or {"type": "object"}
        description = spec.description or "Give the answer as this tool's input."
    else:
        name, schema = "json_response", {"type": "object"}
        description = "Give the answer as a JSON object in this tool's input."
    return {"toolSpec": {"name": name, "description": description, "inputSchema": {"json": schema}}}
