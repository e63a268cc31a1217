"""Example bodies and answers of the Messages routes, shown in the OpenAPI document."""

from __future__ import annotations

from typing import Any

from agentic_platform.web.openapi import ERROR_STATUSES as _PLATFORM_STATUSES

MESSAGES: dict[str, Any] = {
    "model": "smollm2-135m",
    "max_tokens": 128,
    "system": "Answer in one sentence.",
    "messages": [{"role": "user", "content": "What is a knowledge base?"}],
}

COUNT_TOKENS: dict[str, Any] = {
    "model": "smollm2-135m",
    "system": "Answer in one sentence.",
    "messages": [{"role": "user", "content": "What is a knowledge base?"}],
}

ERROR_STATUSES: dict[int, str] = {
    status: about.replace(", `param` names the field", "") + " In Anthropic's error format."
    for status, about in _PLATFORM_STATUSES.items()
}

MESSAGE_ANSWERS: dict[str, Any] = {
    "description": "The message; with `stream: true`, Anthropic's server-sent events instead: "
    "`message_start`, `ping`, per content block `content_block_start`, its "
    "`content_block_delta`s (`text_delta`, `input_json_delta`) and `content_block_stop`, then "
    "`message_delta` (stop reason and usage) and `message_stop`. A failure after the stream "
    "started ends it with an `error` event.",
    "content": {
        "text/event-stream": {
            "schema": {
                "title": "MessageStreamEvent",
                "description": "One event of the stream.",
                "type": "object",
                "required": ["event", "data"],
                "properties": {
                    "event": {"type": "string", "description": "The event's type."},
                    "data": {"type": "string", "description": "The event as JSON."},
                },
            },
            "example": {
                "event": "content_block_delta",
                "data": '{"type":"content_block_delta","index":0,'
                '"delta":{"type":"text_delta","text":"A"}}',
            },
        }
    },
}
