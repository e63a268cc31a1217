"""A legacy completion as the gateway's chat request (the prompt as one user message), and
chat answers and chunks back as ``text_completion`` objects."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import orjson

from agentic_platform.errors import PlatformError
from agentic_platform.llm_gateway.completions.schemas import (
    Completion,
    CompletionChoice,
    CompletionRequest,
    new_completion_id,
)
from agentic_platform.llm_gateway.metered import total_usage
from agentic_platform.llm_gateway.schemas import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    StreamOptions,
    UserMessage,
)
from agentic_platform.web.sse import DONE, event

logger = logging.getLogger("agentic_platform.http")


def to_chat(request: CompletionRequest, prompt: str) -> ChatCompletionRequest:
    return ChatCompletionRequest(
        model=request.model,
        messages=[UserMessage(role="user", content=prompt)],
        max_tokens=request.max_tokens,
        temperature=request.temperature,
        top_p=request.top_p,
        stop=request.stop,
        seed=request.seed,
        user=request.user,
        presence_penalty=request.presence_penalty,
        frequency_penalty=request.frequency_penalty,
        stream=request.stream,
        stream_options=StreamOptions(include_usage=True) if request.stream else None,
    )


def from_chat(model: str, completions: list[ChatCompletion]) -> Completion:
    choices = [
        CompletionChoice(
            index=index,
            text=completion.choices[0].message.content or "",
            finish_reason=completion.choices[0].finish_reason,
        )
        for index, completion in enumerate(completions)
    ]
    return Completion(model=model, choices=choices, usage=total_usage(completions))


async def completion_events(
    model: str, chunks: AsyncIterator[ChatCompletionChunk], *, include_usage: bool
) -> AsyncIterator[bytes]:
    """Each chunk with text or a finish reason as a ``text_completion`` event, the usage
    chunk when asked for, then ``[DONE]``; a failure ends the stream with an error event."""
    completion_id = new_completion_id()
    try:
        async for chunk in chunks:
            out = Completion(id=completion_id, model=model, choices=[])
            if chunk.usage is not None and not chunk.choices:
                if include_usage:
                    out.usage = chunk.usage
                    yield event(out.__pydantic_serializer__.to_json(out))
                continue
            for choice in chunk.choices:
                text = choice.delta.content or ""
                if text or choice.finish_reason is not None:
                    out.choices.append(
                        CompletionChoice(text=text, finish_reason=choice.finish_reason)
                    )
            if out.choices:
                yield event(out.__pydantic_serializer__.to_json(out))
    except PlatformError as error:
        logger.warning("stream failed", extra={"code": error.code})
        yield event(orjson.dumps(error.to_body()))
        return
    except Exception as error:
        logger.error("stream failed", exc_info=error)
        yield event(orjson.dumps(PlatformError("The stream failed.").to_body()))
        return
    yield DONE
