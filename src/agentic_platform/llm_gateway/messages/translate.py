"""Translation between an Anthropic Messages request and the gateway's canonical chat shapes.

Pure functions, no I/O. The choices made where the two APIs differ:

* ``system`` (a string or text blocks) becomes one system message at the start;
* a user message's ``tool_result`` blocks become ``tool`` messages, in order, before the rest
  of that message (Anthropic puts tool results first); a result marked ``is_error`` is sent
  with ``Error:`` in front of its text, since the canonical shape has no such flag; images in
  a tool result are refused (the canonical tool message holds text only);
* images become image parts (base64 sources as ``data:`` URLs);
* an assistant message's ``tool_use`` blocks become tool calls (``input`` as JSON text);
  ``thinking`` blocks of earlier answers are dropped;
* ``tool_choice`` auto / any / tool / none become ``auto`` / ``required`` / the named
  function / ``none``; ``disable_parallel_tool_use`` sets ``parallel_tool_calls: false``;
* ``stop_sequences`` become ``stop``, ``metadata.user_id`` becomes ``user``; ``top_k`` has no
  canonical equivalent and is dropped.

Answers come back as one ``text`` block (when there is text) followed by ``tool_use`` blocks;
the finish reason maps stop → ``end_turn``, length → ``max_tokens``, tool_calls →
``tool_use`` and content_filter → ``refusal`` (a stop sequence is reported as ``end_turn``:
the providers do not all say which sequence matched). ``input_tokens`` excludes cached prompt
tokens, which are reported in ``cache_read_input_tokens`` as Anthropic does.
"""

from __future__ import annotations

from typing import Any

import orjson

from agentic_platform.errors import UnsupportedFeatureError
from agentic_platform.llm_gateway.messages.schemas import (
    ContentBlock,
    CountTokensRequest,
    ImageBlock,
    InputMessage,
    MessageResponse,
    MessagesRequest,
    MessageUsage,
    OutputText,
    OutputToolUse,
    StopReason,
    TextBlock,
    ToolChoice,
    ToolResultBlock,
    ToolUseBlock,
    URLSource,
)
from agentic_platform.llm_gateway.schemas import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionRequest,
    ContentPart,
    FinishReason,
    FunctionCall,
    FunctionDefinition,
    ImagePart,
    ImageURL,
    Message,
    NamedFunction,
    NamedToolChoice,
    SystemMessage,
    TextPart,
    Tool,
    ToolCall,
    ToolMessage,
    Usage,
    UserMessage,
)
from agentic_platform.llm_gateway.schemas import ToolChoice as ChatToolChoice

STOP_REASONS: dict[FinishReason | None, StopReason] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}


def message_id(completion_id: str) -> str:
    """An Anthropic-looking id (``msg_...``) for a completion."""
    return "msg_" + completion_id.removeprefix("chatcmpl-")


# --- request -------------------------------------------------------------------------------


def to_chat_request(request: CountTokensRequest) -> ChatCompletionRequest:
    """The canonical chat request for a Messages (or count_tokens) request."""
    messages: list[Message] = []
    system = _system_text(request.system)
    if system:
        messages.append(SystemMessage(role="system", content=system))
    for message in request.messages:
        messages.extend(_messages(message))
    fields: dict[str, Any] = {"model": request.model, "messages": messages}
    if request.tools:
        fields["tools"] = [
            Tool(
                function=FunctionDefinition(
                    name=tool.name, description=tool.description, parameters=tool.input_schema
                )
            )
            for tool in request.tools
        ]
    if request.tool_choice is not None:
        fields["tool_choice"] = _tool_choice(request.tool_choice)
        if request.tool_choice.disable_parallel_tool_use:
            fields["parallel_tool_calls"] = False
    if isinstance(request, MessagesRequest):
        fields["max_tokens"] = request.max_tokens
        fields["stream"] = request.stream
        if request.stop_sequences:
            fields["stop"] = request.stop_sequences
        if request.temperature is not None:
            fields["temperature"] = request.temperature
        if request.top_p is not None:
            fields["top_p"] = request.top_p
        if request.metadata is not None and request.metadata.user_id:
            fields["user"] = request.metadata.user_id
    return ChatCompletionRequest(**fields)


def _system_text(system: str | list[TextBlock] | None) -> str:
    if system is None or isinstance(system, str):
        return system or ""
    return "\n\n".join(block.text for block in system if block.text)


def _tool_choice(choice: ToolChoice) -> ChatToolChoice:
    if choice.type == "tool":
        assert choice.name is not None  # checked by the schema
        return NamedToolChoice(function=NamedFunction(name=choice.name))
    return {"auto": "auto", "any": "required", "none": "none"}[choice.type]  # type: ignore[return-value]


def _messages(message: InputMessage) -> list[Message]:
    if isinstance(message.content, str):
        if message.role == "assistant":
            return [AssistantMessage(role="assistant", content=message.content)]
        return [UserMessage(role="user", content=message.content)]
    if message.role == "assistant":
        return [_assistant(message.content)]
    return _user(message.content)


def _assistant(blocks: list[ContentBlock]) -> AssistantMessage:
    text = "".join(block.text for block in blocks if isinstance(block, TextBlock))
    calls = [
        ToolCall(
            id=block.id,
            function=FunctionCall(name=block.name, arguments=orjson.dumps(block.input).decode()),
        )
        for block in blocks
        if isinstance(block, ToolUseBlock)
    ]
    return AssistantMessage(role="assistant", content=text or None, tool_calls=calls or None)


def _user(blocks: list[ContentBlock]) -> list[Message]:
    results: list[Message] = []
    parts: list[ContentPart] = []
    for block in blocks:
        if isinstance(block, ToolResultBlock):
            results.append(_tool_result(block))
        elif isinstance(block, TextBlock):
            parts.append(TextPart(type="text", text=block.text))
        elif isinstance(block, ImageBlock):
            parts.append(_image(block))
        elif isinstance(block, ToolUseBlock):
            raise UnsupportedFeatureError(
                "A tool_use block belongs in an assistant message, not a user message.",
                param="messages",
            )
    if parts:
        results.append(UserMessage(role="user", content=parts))
    return results


def _tool_result(block: ToolResultBlock) -> ToolMessage:
    if isinstance(block.content, str):
        text = block.content
    else:
        if any(isinstance(part, ImageBlock) for part in block.content):
            raise UnsupportedFeatureError(
                "Images inside a tool_result are not supported: send the image as an image "
                "block of the user message instead.",
                param="messages",
            )
        text = "".join(part.text for part in block.content if isinstance(part, TextBlock))
    if block.is_error:
        text = f"Error: {text}"
    return ToolMessage(role="tool", tool_call_id=block.tool_use_id, content=text)


def _image(block: ImageBlock) -> ImagePart:
    source = block.source
    if isinstance(source, URLSource):
        return ImagePart(type="image_url", image_url=ImageURL(url=source.url))
    url = f"data:{source.media_type};base64,{source.data}"
    return ImagePart(type="image_url", image_url=ImageURL(url=url))


# --- response ------------------------------------------------------------------------------


def message_usage(usage: Usage) -> MessageUsage:
    cached = usage.prompt_tokens_details.cached_tokens if usage.prompt_tokens_details else 0
    return MessageUsage(
        input_tokens=max(usage.prompt_tokens - cached, 0),
        output_tokens=usage.completion_tokens,
        cache_read_input_tokens=cached or None,
    )


def tool_input(arguments: str) -> dict[str, Any]:
    """A tool call's arguments as Anthropic's ``input`` object; arguments that are not a JSON
    object (a model that wrote broken JSON) are kept under ``arguments``."""
    try:
        value = orjson.loads(arguments or "{}")
    except orjson.JSONDecodeError:
        return {"arguments": arguments}
    return value if isinstance(value, dict) else {"arguments": value}


def to_message(completion: ChatCompletion) -> MessageResponse:
    choice = completion.choices[0]
    content: list[OutputText | OutputToolUse] = []
    if choice.message.content:
        content.append(OutputText(text=choice.message.content))
    for call in choice.message.tool_calls or []:
        content.append(
            OutputToolUse(
                id=call.id, name=call.function.name, input=tool_input(call.function.arguments)
            )
        )
    return MessageResponse(
        id=message_id(completion.id),
        model=completion.model,
        content=content,
        stop_reason=STOP_REASONS.get(choice.finish_reason, "end_turn"),
        usage=message_usage(completion.usage),
    )
