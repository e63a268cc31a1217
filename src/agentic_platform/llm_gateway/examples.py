"""Example bodies and answers of the gateway's routes, shown in the OpenAPI document (they
name the models of the embedded default catalog)."""

from __future__ import annotations

from typing import Any

CHAT: dict[str, Any] = {
    "model": "smollm2-135m",
    "messages": [
        {"role": "system", "content": "Answer in one sentence."},
        {"role": "user", "content": "What is a knowledge base?"},
    ],
    "max_tokens": 128,
}

EMBEDDINGS: dict[str, Any] = {"model": "minilm-l6", "input": ["first text", "second text"]}

CHAT_ANSWERS: dict[str, Any] = {
    "description": "The completion; with `stream: true`, server-sent events instead: one "
    "`data:` line per `ChatCompletionChunk` (JSON), then `data: [DONE]`. A failure after the "
    "stream started ends it with an event holding the error envelope, and no `[DONE]`.",
    "content": {
        "text/event-stream": {
            "schema": {
                "title": "ChatCompletionEvent",
                "description": "One event of the stream (as OpenAPI 3.2's `itemSchema` would "
                "describe it).",
                "type": "object",
                "required": ["data"],
                "properties": {
                    "data": {
                        "type": "string",
                        "description": "A `ChatCompletionChunk` as JSON; after a failure the "
                        "error envelope; at the end `[DONE]`.",
                    },
                    "event": {"type": "string"},
                    "id": {"type": "string"},
                    "retry": {"type": "integer"},
                },
            },
            "example": {
                "data": '{"id":"chatcmpl-1","object":"chat.completion.chunk",'
                '"choices":[{"index":0,"delta":{"content":"A"}}]}'
            },
        }
    },
}
