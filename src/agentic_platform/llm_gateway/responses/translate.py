"""A Responses API request as the gateway's internal chat request, and a chat completion
back as a Response: every provider in the catalog serves the Responses API through the same
path (and metering) as ``/chat/completions``."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from agentic_platform.errors import InvalidRequestError, UnsupportedFeatureError
from agentic_platform.llm_gateway.responses.schemas import (
    FunctionCallItem,
    FunctionCallOutputItem,
    IncompleteDetails,
    InputImage,
    InputText,
    InputTokensDetails,
    MessageItem,
    NamedFunctionChoice,
    OtherTool,
    OutputFunctionCall,
    OutputItem,
    OutputMessage,
    OutputText,
    Refusal,
    ResponseObject,
    ResponseRequest,
    ResponseUsage,
    UnsupportedItem,
    new_id,
)
from agentic_platform.llm_gateway.schemas import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionRequest,
    FinishReason,
    FunctionCall,
    FunctionDefinition,
    ImagePart,
    ImageURL,
    JsonSchemaFormat,
    Message,
    NamedFunction,
    NamedToolChoice,
    ResponseFormat,
    StreamOptions,
    SystemMessage,
    TextPart,
    Tool,
    ToolCall,
    ToolMessage,
    Usage,
    UserMessage,
)
from agentic_platform.web.errors import from_pydantic

SUPPORTED_ITEMS = "message, function_call and function_call_output"


def refuse_state(request: ResponseRequest) -> None:
    """Stored responses are not kept, so nothing can be read back or continued."""
    if request.store:
        raise InvalidRequestError(
            "Stored responses are not supported: send store=false (or leave it out) and pass "
            "the whole conversation as input items.",
            param="store",
            code="store_not_supported",
        )
    if request.previous_response_id is not None:
        raise InvalidRequestError(
            "previous_response_id is not supported (responses are not stored): send the "
            "earlier turns, including the output items you received, as input items.",
            param="previous_response_id",
            code="previous_response_not_supported",
        )


def to_chat(request: ResponseRequest) -> ChatCompletionRequest:
    refuse_state(request)
    messages: list[Message] = []
    if request.instructions:
        messages.append(SystemMessage(role="system", content=request.instructions))
    if isinstance(request.input, str):
        messages.append(UserMessage(role="user", content=request.input))
    else:
        for index, item in enumerate(request.input):
            _add_item(messages, item, index)
    fields: dict[str, Any] = {
        "model": request.model,
        "messages": messages,
        "tools": _tools(request),
        "tool_choice": _tool_choice(request),
        "parallel_tool_calls": request.parallel_tool_calls,
        "response_format": _response_format(request),
        "temperature": request.temperature,
        "top_p": request.top_p,
        "max_completion_tokens": request.max_output_tokens,
        "user": request.user,
        "stream": request.stream,
        "stream_options": StreamOptions(include_usage=True) if request.stream else None,
    }
    try:
        return ChatCompletionRequest.model_validate(
            {key: value for key, value in fields.items() if value is not None}
        )
    except ValidationError as exc:
        raise from_pydantic(exc) from None


def _add_item(messages: list[Message], item: Any, index: int) -> None:
    if isinstance(item, MessageItem):
        messages.append(_message(item, index))
    elif isinstance(item, FunctionCallItem):
        call = ToolCall(
            id=item.call_id, function=FunctionCall(name=item.name, arguments=item.arguments)
        )
        last = messages[-1] if messages else None
        if isinstance(last, AssistantMessage):
            last.tool_calls = [*(last.tool_calls or []), call]
        else:
            messages.append(AssistantMessage(role="assistant", tool_calls=[call]))
    elif isinstance(item, FunctionCallOutputItem):
        output = item.output
        text = output if isinstance(output, str) else "".join(part.text for part in output)
        messages.append(ToolMessage(role="tool", content=text, tool_call_id=item.call_id))
    elif isinstance(item, UnsupportedItem):
        raise UnsupportedFeatureError(
            f"Input items of type '{item.type}' are not supported (input[{index}]): send "
            f"{SUPPORTED_ITEMS} items.",
            param=f"input[{index}]",
        )


def _message(item: MessageItem, index: int) -> Message:
    content = item.content
    if item.role in ("system", "developer"):
        return SystemMessage(role=item.role, content=_text(content))
    if item.role == "assistant":
        return AssistantMessage(role="assistant", content=_text(content))
    if isinstance(content, str):
        return UserMessage(role="user", content=content)
    parts: list[TextPart | ImagePart] = []
    for part in content:
        if isinstance(part, InputText):
            parts.append(TextPart(type="text", text=part.text))
        elif isinstance(part, InputImage):
            if not part.image_url:
                raise UnsupportedFeatureError(
                    f"input[{index}]: images must be given by image_url (a URL or a data: "
                    "URL); file_id is not supported.",
                    param=f"input[{index}].content",
                )
            parts.append(
                ImagePart(
                    type="image_url", image_url=ImageURL(url=part.image_url, detail=part.detail)
                )
            )
    return UserMessage(role="user", content=parts)


def _text(content: str | list[Any]) -> str:
    if isinstance(content, str):
        return content
    return "".join(
        part.text
        if isinstance(part, InputText)
        else part.refusal
        if isinstance(part, Refusal)
        else ""
        for part in content
    )


def _tools(request: ResponseRequest) -> list[Tool] | None:
    if not request.tools:
        return None
    tools = []
    for index, tool in enumerate(request.tools):
        if isinstance(tool, OtherTool):
            raise UnsupportedFeatureError(
                f"Tools of type '{tool.type}' are not supported (tools[{index}]): only "
                "function tools are.",
                param=f"tools[{index}]",
            )
        tools.append(
            Tool(
                function=FunctionDefinition(
                    name=tool.name,
                    description=tool.description,
                    parameters=tool.parameters,
                    strict=tool.strict,
                )
            )
        )
    return tools


def _tool_choice(request: ResponseRequest) -> Any:
    choice = request.tool_choice
    if isinstance(choice, NamedFunctionChoice):
        return NamedToolChoice(function=NamedFunction(name=choice.name))
    return choice


def _response_format(request: ResponseRequest) -> ResponseFormat | None:
    if request.text is None:
        return None
    fmt = request.text.format
    if fmt.type == "json_schema":
        schema = JsonSchemaFormat(
            name=fmt.name, description=fmt.description, schema=fmt.schema_, strict=fmt.strict
        )
        return ResponseFormat(type="json_schema", json_schema=schema)
    if fmt.type == "json_object":
        return ResponseFormat(type="json_object")
    return None


# --- back ------------------------------------------------------------------------------


def usage_of(usage: Usage) -> ResponseUsage:
    cached = usage.prompt_tokens_details.cached_tokens if usage.prompt_tokens_details else 0
    return ResponseUsage(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
        input_tokens_details=InputTokensDetails(cached_tokens=cached),
    )


def incomplete(finish: FinishReason | None) -> IncompleteDetails | None:
    if finish == "length":
        return IncompleteDetails(reason="max_output_tokens")
    if finish == "content_filter":
        return IncompleteDetails(reason="content_filter")
    return None


def response_shell(request: ResponseRequest, model: str) -> ResponseObject:
    """The Response with the request's settings echoed and no output yet."""
    text = request.text.model_dump(by_alias=True, exclude_none=True) if request.text else None
    return ResponseObject(
        model=model,
        instructions=request.instructions,
        parallel_tool_calls=request.parallel_tool_calls is not False,
        tool_choice=request.tool_choice.model_dump()
        if isinstance(request.tool_choice, NamedFunctionChoice)
        else request.tool_choice or "auto",
        tools=[tool.model_dump(exclude_none=True) for tool in request.tools or []],
        temperature=request.temperature,
        top_p=request.top_p,
        max_output_tokens=request.max_output_tokens,
        metadata=request.metadata or {},
        user=request.user,
        **({"text": text} if text else {}),
    )


def from_chat(request: ResponseRequest, completion: ChatCompletion) -> ResponseObject:
    response = response_shell(request, completion.model)
    choice = completion.choices[0]
    output: list[OutputItem] = []
    message = choice.message
    if message.content:
        output.append(OutputMessage(id=new_id("msg"), content=[OutputText(text=message.content)]))
    for call in message.tool_calls or []:
        output.append(
            OutputFunctionCall(
                id=new_id("fc"),
                call_id=call.id,
                name=call.function.name,
                arguments=call.function.arguments,
            )
        )
    response.output = output
    response.incomplete_details = incomplete(choice.finish_reason)
    if response.incomplete_details is not None:
        response.status = "incomplete"
    response.usage = usage_of(completion.usage)
    return response
