"""Chat messages (the OpenAI shape the context keeps) as PydanticAI's message history.

The context's conversation is a system prompt, then user and assistant turns, then the new
user message. PydanticAI takes the system prompt as ``instructions`` (sent with every request,
never stored), the turns as ``ModelRequest``/``ModelResponse`` messages, and the new message as
the run's prompt: text, or user content (text and images) for content parts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic_ai.messages import (
    BinaryContent,
    ImageUrl,
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    UserContent,
    UserPromptPart,
)


@dataclass(frozen=True)
class Conversation:
    instructions: str | None
    history: list[ModelMessage]
    prompt: str | list[UserContent]


def conversation(messages: list[dict[str, Any]]) -> Conversation:
    """Split ``messages`` (``ctx.messages(system)``: system first, the new message last)."""
    *earlier, last = messages
    instructions = None
    if earlier and earlier[0]["role"] == "system":
        instructions = str(earlier[0]["content"])
        earlier = earlier[1:]
    history: list[ModelMessage] = []
    for message in earlier:
        if message["role"] == "assistant":
            history.append(ModelResponse(parts=[TextPart(content=_text(message["content"]))]))
        elif message["role"] == "user":
            history.append(ModelRequest(parts=[UserPromptPart(content=_content(message))]))
    return Conversation(instructions, history, _content(last))


def _content(message: dict[str, Any]) -> str | list[UserContent]:
    content = message["content"]
    if isinstance(content, str):
        return content
    return [_part(part) for part in content if part.get("type") in ("text", "image_url")]


def _part(part: dict[str, Any]) -> UserContent:
    if part["type"] == "text":
        return str(part["text"])
    url = str(part["image_url"]["url"])
    return BinaryContent.from_data_uri(url) if url.startswith("data:") else ImageUrl(url=url)


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""
