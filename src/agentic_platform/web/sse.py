"""Server-sent events in the OpenAI streaming format."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import orjson

from agentic_platform.errors import PlatformError
from agentic_platform.llm_gateway.schemas import ChatCompletionChunk

logger = logging.getLogger("agentic_platform.http")

DONE = b"data: [DONE]\n\n"


def event(payload: bytes) -> bytes:
    return b"data: " + payload + b"\n\n"


async def chat_events(
    chunks: AsyncIterator[ChatCompletionChunk], *, include_usage: bool
) -> AsyncIterator[bytes]:
    """Each chunk as an event, then ``[DONE]``. The usage-only chunk is sent only when the
    client asked for it. A failure mid-stream ends the stream with an error event (and no
    ``[DONE]``), which the OpenAI SDK raises as an APIError."""
    try:
        async for chunk in chunks:
            if chunk.usage is not None:
                if not chunk.choices:
                    if include_usage:
                        yield event(chunk.__pydantic_serializer__.to_json(chunk))
                    continue
                if not include_usage:
                    chunk.usage = None
            yield event(chunk.__pydantic_serializer__.to_json(chunk))
    except PlatformError as error:
        logger.warning("stream failed", extra={"code": error.code})
        yield event(orjson.dumps(error.to_body()))
        return
    except Exception as error:
        logger.error("stream failed", exc_info=error)
        yield event(orjson.dumps(PlatformError("The stream failed.").to_body()))
        return
    yield DONE
