"""Translation between the canonical OpenAI shapes and the Anthropic Messages API.

Pure functions and one small state machine, no I/O, so each rule is easy to test and read.
The rules themselves (and the choices made where the two APIs differ) are documented in
:mod:`agentic_platform.llm_gateway.providers.anthropic`.
"""

from __future__ import annotations

from typing import Any

import orjson

from agentic_platform.errors import InvalidRequestError, UnsupportedFeatureError
from agentic_platform.llm_gateway.schemas import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChunkChoice,
    ChunkFunctionCall,
    ChunkToolCall,
    ContentPart,
    Delta,
    FinishReason,
    FunctionCall,
    ImagePart,
    Message,
    NamedToolChoice,
    ResponseFormat,
    ResponseMessage,
    SystemMessage,
    Tool,
    ToolCall,
    ToolChoice,
    ToolMessage,
    Usage,
    UserMessage,
    message_text,
    new_completion_id,
)

JSON_OBJECT_TOOL = "json_response"
_ANY_OBJECT: dict[str, Any] = {"type": "object"}
_FINISH: dict[str | None, FinishReason] = {
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
Block = dict[str, Any]


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


# --- request ----------------------------------------------------------------------------


def to_messages_body(
    request: ChatCompletionRequest, *, model: str, default_max_tokens: int
) -> tuple[dict[str, Any], str | None]:
    """The Messages API body for a request, and the name of the tool that emulates
    ``response_format`` (None when the caller did not ask for JSON)."""
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": request.output_limit or default_max_tokens,
        "messages": _messages(request.messages),
    }
    system = "\n\n".join(
        message_text(m.content) for m in request.messages if isinstance(m, SystemMessage)
    )
    if system:
        body["system"] = system
    if request.temperature is not None:
        body["temperature"] = min(request.temperature, 1.0)  # Anthropic's range is 0..1
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.stop_sequences:
        body["stop_sequences"] = request.stop_sequences
    if request.user:
        body["metadata"] = {"user_id": request.user}
    json_tool = _json_tool(request.response_format)
    if json_tool is not None:
        if request.tools:
            raise UnsupportedFeatureError(
                "the anthropic provider cannot combine response_format with tools",
                param="response_format",
            )
        body["tools"] = [json_tool]
        body["tool_choice"] = {"type": "tool", "name": json_tool["name"]}
        return body, json_tool["name"]
    if request.tools:
        body["tools"] = [_tool(tool) for tool in request.tools]
        choice = _tool_choice(request.tool_choice, request.parallel_tool_calls)
        if choice is not None:
            body["tool_choice"] = choice
    return body, None


def _messages(messages: list[Message]) -> list[Block]:
    """Anthropic wants alternating roles: same-role neighbours (including a run of tool
    results, which travel in a user message) are merged into one message."""
    result: list[Block] = []
    for message in messages:
        if isinstance(message, SystemMessage):
            continue
        role = "assistant" if isinstance(message, AssistantMessage) else "user"
        blocks = _blocks(message)
        if not blocks:
            continue
        if result and result[-1]["role"] == role:
            result[-1]["content"].extend(blocks)
        else:
            result.append({"role": role, "content": blocks})
    return result


def _blocks(message: UserMessage | AssistantMessage | ToolMessage) -> list[Block]:
    if isinstance(message, ToolMessage):
        block: Block = {"type": "tool_result", "tool_use_id": message.tool_call_id}
        text = message_text(message.content)
        if text:
            block["content"] = text
        return [block]
    if isinstance(message, AssistantMessage):
        blocks = _text_blocks(message_text(message.content))
        blocks.extend(_tool_use(call) for call in message.tool_calls or [])
        return blocks
    return _user_blocks(message.content)


def _user_blocks(content: str | list[ContentPart]) -> list[Block]:
    if isinstance(content, str):
        return _text_blocks(content)
    blocks: list[Block] = []
    for part in content:
        if isinstance(part, ImagePart):
            blocks.append(_image(part.image_url.url))
        else:
            blocks.extend(_text_blocks(part.text))
    return blocks


def _text_blocks(text: str) -> list[Block]:
    return [{"type": "text", "text": text}] if text else []  # Anthropic rejects empty text


def _image(url: str) -> Block:
    if url.startswith(("http://", "https://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    header, comma, data = url.partition(",")
    if url.startswith("data:") and comma and header.endswith(";base64"):
        media_type = header[len("data:") : -len(";base64")]
        return {
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data},
        }
    raise UnsupportedFeatureError(
        "the anthropic provider takes images as http(s) URLs or base64 data: URLs",
        param="messages",
    )


def _tool_use(call: ToolCall) -> Block:
    arguments = call.function.arguments.strip() or "{}"
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise InvalidRequestError(
            f"the arguments of tool call '{call.id}' are not a JSON object",
            param="messages",
        )
    return {"type": "tool_use", "id": call.id, "name": call.function.name, "input": value}


def _tool(tool: Tool) -> Block:
    block: Block = {
        "name": tool.function.name,
        "input_schema": tool.function.parameters or {"type": "object", "properties": {}},
    }
    if tool.function.description:
        block["description"] = tool.function.description
    return block


def _tool_choice(choice: ToolChoice | None, parallel: bool | None) -> Block | None:
    block: Block
    if isinstance(choice, NamedToolChoice):
        block = {"type": "tool", "name": choice.function.name}
    elif choice == "none":
        return {"type": "none"}
    elif choice == "required":
        block = {"type": "any"}
    elif choice == "auto" or parallel is False:
        block = {"type": "auto"}
    else:
        return None
    if parallel is False:
        block["disable_parallel_tool_use"] = True
    return block


def _json_tool(response_format: ResponseFormat | None) -> Block | None:
    if response_format is None or response_format.type == "text":
        return None
    spec = response_format.json_schema
    if spec is None or spec.schema_ is None:
        name, schema, about = JSON_OBJECT_TOOL, _ANY_OBJECT, None
    else:
        name, schema, about = spec.name, spec.schema_, spec.description
    return {
        "name": name,
        "description": about
        or "Give your final answer by calling this tool; its input is the answer.",
        "input_schema": schema,
    }


# --- response ---------------------------------------------------------------------------


def usage_of(usage: dict[str, Any]) -> Usage:
    """OpenAI counts cached prompt tokens inside ``prompt_tokens``; Anthropic reports them
    apart from ``input_tokens``, so they are added back (cache reads also as ``cached``)."""
    read = usage.get("cache_read_input_tokens") or 0
    written = usage.get("cache_creation_input_tokens") or 0
    prompt = (usage.get("input_tokens") or 0) + read + written
    return Usage.of(prompt, usage.get("output_tokens") or 0, cached=read)


def finish_reason(stop_reason: str | None, *, json_mode: bool) -> FinishReason:
    reason = _FINISH.get(stop_reason, "stop")
    return "stop" if json_mode and reason == "tool_calls" else reason


def to_completion(data: dict[str, Any], *, json_tool: str | None) -> ChatCompletion:
    """A Messages API response as a chat completion. In JSON mode the emulating tool's
    input is the content, and any prose around it is dropped."""
    texts: list[str] = []
    calls: list[ToolCall] = []
    answer: str | None = None
    for block in data["content"]:
        kind = block.get("type")
        if kind == "text" and json_tool is None:
            texts.append(block["text"])
        elif kind == "tool_use" and block["name"] == json_tool:
            answer = _dumps(block.get("input") or {})
        elif kind == "tool_use":
            arguments = _dumps(block.get("input") or {})
            calls.append(
                ToolCall(
                    id=block["id"], function=FunctionCall(name=block["name"], arguments=arguments)
                )
            )
    content = answer if answer is not None else "".join(texts)
    message = ResponseMessage(content=content or (None if calls else ""), tool_calls=calls or None)
    finish = finish_reason(data.get("stop_reason"), json_mode=json_tool is not None)
    return ChatCompletion(
        id=data.get("id") or new_completion_id(),
        model=data.get("model") or "",
        choices=[Choice(message=message, finish_reason=finish)],
        usage=usage_of(data.get("usage") or {}),
    )


class StreamTranslator:
    """Turns Anthropic stream events into OpenAI chunks: a first chunk with the role, text
    and tool-call fragments (tool calls numbered among tool calls, not content blocks), a
    chunk with the finish reason, and a last chunk with usage and no choices."""

    def __init__(self, *, model: str, json_tool: str | None) -> None:
        self._id = new_completion_id()
        self._model = model
        self._json_tool = json_tool
        self._tools: dict[int, int] = {}  # content block index -> tool call index
        self._json_blocks: set[int] = set()
        self._silent: set[int] = set()  # tool blocks that have sent no argument text yet
        self._usage: dict[str, Any] = {}
        self.finished = False  # message_stop seen: the answer is complete

    def feed(self, event: dict[str, Any]) -> list[ChatCompletionChunk]:
        kind = event.get("type")
        if kind == "content_block_delta":
            return self._delta(event["index"], event["delta"])
        if kind == "content_block_start":
            return self._start(event["index"], event["content_block"])
        if kind == "content_block_stop":
            return self._stop(event["index"])
        if kind == "message_start":
            message = event["message"]
            self._id = message.get("id") or self._id
            self._model = message.get("model") or self._model
            self._usage.update(message.get("usage") or {})
            return [self._chunk(Delta(role="assistant", content=""))]
        if kind == "message_delta":
            self._usage.update(event.get("usage") or {})
            stop = (event.get("delta") or {}).get("stop_reason")
            reason = finish_reason(stop, json_mode=self._json_tool is not None)
            return [self._chunk(Delta(), reason)]
        if kind == "message_stop":
            self.finished = True
            usage = usage_of(self._usage)
            return [ChatCompletionChunk(id=self._id, model=self._model, usage=usage)]
        return []  # ping, and event types added after this adapter was written

    def _start(self, index: int, block: dict[str, Any]) -> list[ChatCompletionChunk]:
        kind = block.get("type")
        if kind == "text" and block.get("text") and self._json_tool is None:
            return [self._chunk(Delta(content=block["text"]))]
        if kind != "tool_use":
            return []
        self._silent.add(index)
        if block["name"] == self._json_tool:
            self._json_blocks.add(index)
            return []
        position = self._tools[index] = len(self._tools)
        function = ChunkFunctionCall(name=block["name"], arguments="")
        call = ChunkToolCall(index=position, id=block["id"], type="function", function=function)
        return [self._chunk(Delta(tool_calls=[call]))]

    def _delta(self, index: int, delta: dict[str, Any]) -> list[ChatCompletionChunk]:
        kind = delta.get("type")
        if kind == "text_delta" and self._json_tool is None:
            return [self._chunk(Delta(content=delta["text"]))]
        if kind == "input_json_delta" and delta.get("partial_json"):
            self._silent.discard(index)
            return self._arguments(index, delta["partial_json"])
        return []

    def _stop(self, index: int) -> list[ChatCompletionChunk]:
        if index not in self._silent:
            return []
        self._silent.discard(index)
        return self._arguments(index, "{}")  # a tool called without arguments

    def _arguments(self, index: int, fragment: str) -> list[ChatCompletionChunk]:
        if index in self._json_blocks:
            return [self._chunk(Delta(content=fragment))]
        position = self._tools.get(index)
        if position is None:
            return []
        call = ChunkToolCall(index=position, function=ChunkFunctionCall(arguments=fragment))
        return [self._chunk(Delta(tool_calls=[call]))]

    def _chunk(self, delta: Delta, finish: FinishReason | None = None) -> ChatCompletionChunk:
        return ChatCompletionChunk(
            id=self._id,
            model=self._model,
            choices=[ChunkChoice(delta=delta, finish_reason=finish)],
        )
