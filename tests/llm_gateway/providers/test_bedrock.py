"""The Bedrock provider at the wire.

Converse and InvokeModel are checked with botocore's Stubber on the provider's real client
(it validates every request and response against the service model). ConverseStream, the
transport failures and concurrency are checked against a local HTTP server on 127.0.0.1 that
speaks Bedrock's REST-JSON and binary event-stream formats, with static fake credentials, so
requests are really serialised, signed, sent and parsed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import socket
import struct
import threading
import time
import zlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import unquote

import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from agentic_platform.errors import (
    ConfigurationError,
    InvalidRequestError,
    UnsupportedFeatureError,
    UpstreamAuthError,
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamRequestError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from agentic_platform.llm_gateway.catalog import Deployment
from agentic_platform.llm_gateway.providers.bedrock import (
    BedrockChatProvider,
    BedrockEmbeddingProvider,
)
from agentic_platform.llm_gateway.providers.registry import (
    build_chat_provider,
    build_embedding_provider,
)
from agentic_platform.llm_gateway.schemas import ChatCompletionChunk, ChatCompletionRequest

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
SECRET = "fake-secret-SENTINEL"
PNG = b"\x89PNG\r\n\x1a\nfake-png-bytes"
METRICS = {"latencyMs": 12}


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """Static fake credentials and no way to reach real AWS configuration or IMDS."""
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFAKEKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "missing-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "missing-credentials"))


def deployment(model: str = MODEL, **options: Any) -> Deployment:
    timeout = options.pop("timeout_seconds", 5.0)
    return Deployment(
        provider="bedrock",
        model=model,
        region="us-east-1",
        timeout_seconds=timeout,
        options=options,
    )


def chat_request(messages: list[dict[str, Any]], **fields: Any) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate({"model": "claude", "messages": messages, **fields})


def converse_response(
    content: list[dict[str, Any]], stop: str = "end_turn", **usage: int
) -> dict[str, Any]:
    counts = {"inputTokens": 10, "outputTokens": 5, **usage}
    counts["totalTokens"] = sum(counts.values())
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop,
        "usage": counts,
        "metrics": METRICS,
    }


@pytest.fixture
async def chat() -> AsyncIterator[tuple[BedrockChatProvider, Stubber]]:
    provider = BedrockChatProvider(deployment())
    with Stubber(provider.client) as stubber:
        yield provider, stubber
        stubber.assert_no_pending_responses()
    await provider.aclose()


# --- Converse: request translation --------------------------------------------------------


async def test_complete_sends_system_text_and_inference_config(
    chat: tuple[BedrockChatProvider, Stubber],
) -> None:
    provider, stubber = chat
    stubber.add_response(
        "converse",
        converse_response([{"text": "Bonjour"}], inputTokens=7, cacheReadInputTokens=100),
        expected_params={
            "modelId": MODEL,
            "system": [{"text": "Be brief."}, {"text": "Answer in French."}],
            "messages": [{"role": "user", "content": [{"text": "Hello"}]}],
            "inferenceConfig": {
                "maxTokens": 64,
                "temperature": 0.2,
                "topP": 0.9,
                "stopSequences": ["END"],
            },
        },
    )
    completion = await provider.complete(
        chat_request(
            [
                {"role": "system", "content": "Be brief."},
                {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
                {"role": "user", "content": "Hello"},
            ],
            max_tokens=64,
            temperature=0.2,
            top_p=0.9,
            stop="END",
        )
    )
    choice = completion.choices[0]
    assert choice.message.content == "Bonjour"
    assert choice.message.tool_calls is None
    assert choice.finish_reason == "stop"
    # Bedrock's inputTokens excludes cache reads; OpenAI's prompt_tokens includes them.
    assert completion.usage.prompt_tokens == 107
    assert completion.usage.completion_tokens == 5
    assert completion.usage.total_tokens == 112
    assert completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == 100


async def test_data_url_images_become_image_bytes(
    chat: tuple[BedrockChatProvider, Stubber],
) -> None:
    provider, stubber = chat
    encoded = base64.b64encode(PNG).decode()
    stubber.add_response(
        "converse",
        converse_response([{"text": "A cat."}]),
        expected_params={
            "modelId": MODEL,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"text": "What is this?"},
                        {"image": {"format": "png", "source": {"bytes": PNG}}},
                        {"image": {"format": "jpeg", "source": {"bytes": PNG}}},
                    ],
                }
            ],
        },
    )
    completion = await provider.complete(
        chat_request(
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is this?"},
                        {
                            "type": "image_url",
                            "image_url": {"url": f"data:image/png;base64,{encoded}"},
                        },
                        {
                            "type": "image_url",
                            "image_url": {"url": f"data:image/jpg;base64,{encoded}"},
                        },
                    ],
                }
            ]
        )
    )
    assert completion.choices[0].message.content == "A cat."


@pytest.mark.parametrize(
    ("url", "error", "words"),
    [
        ("https://example.com/cat.png", UnsupportedFeatureError, "data URL"),
        ("data:image/tiff;base64,AAAA", UnsupportedFeatureError, "png, jpeg, gif or webp"),
        ("data:image/png,rawbytes", UnsupportedFeatureError, "base64"),
        ("data:image/png;base64,!!!notbase64", InvalidRequestError, "base64"),
    ],
)
async def test_unusable_images_are_refused_before_calling_bedrock(
    chat: tuple[BedrockChatProvider, Stubber], url: str, error: type[Exception], words: str
) -> None:
    provider, _ = chat
    request = chat_request(
        [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}]
    )
    with pytest.raises(error, match=words):
        await provider.complete(request)


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
CLOCK_TOOL = {"type": "function", "function": {"name": "get_time"}}
WEATHER_SPEC = {
    "toolSpec": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}}},
    }
}
CLOCK_SPEC = {
    "toolSpec": {
        "name": "get_time",
        "inputSchema": {"json": {"type": "object", "properties": {}}},
    }
}

TOOL_HISTORY: list[dict[str, Any]] = [
    {"role": "user", "content": "Weather in Paris and the time?"},
    {
        "role": "assistant",
        "content": "Let me check.",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            },
            {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": ""}},
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "18C, cloudy"},
    {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "14:05"}]},
    {"role": "user", "content": "Thanks, summarise."},
]

TOOL_HISTORY_TURNS: list[dict[str, Any]] = [
    {"role": "user", "content": [{"text": "Weather in Paris and the time?"}]},
    {
        "role": "assistant",
        "content": [
            {"text": "Let me check."},
            {"toolUse": {"toolUseId": "call_1", "name": "get_weather", "input": {"city": "Paris"}}},
            {"toolUse": {"toolUseId": "call_2", "name": "get_time", "input": {}}},
        ],
    },
    {
        "role": "user",
        "content": [
            {"toolResult": {"toolUseId": "call_1", "content": [{"text": "18C, cloudy"}]}},
            {"toolResult": {"toolUseId": "call_2", "content": [{"text": "14:05"}]}},
            {"text": "Thanks, summarise."},
        ],
    },
]


async def test_tool_calls_and_results_are_translated_and_merged(
    chat: tuple[BedrockChatProvider, Stubber],
) -> None:
    provider, stubber = chat
    stubber.add_response(
        "converse",
        converse_response(
            [
                {"text": "Checking again."},
                {
                    "toolUse": {
                        "toolUseId": "tooluse_A",
                        "name": "get_weather",
                        "input": {"city": "Lyon"},
                    }
                },
                {"toolUse": {"toolUseId": "tooluse_B", "name": "get_time", "input": {}}},
            ],
            stop="tool_use",
        ),
        expected_params={
            "modelId": MODEL,
            "messages": TOOL_HISTORY_TURNS,
            "toolConfig": {"tools": [WEATHER_SPEC, CLOCK_SPEC], "toolChoice": {"auto": {}}},
        },
    )
    completion = await provider.complete(
        chat_request(TOOL_HISTORY, tools=[WEATHER_TOOL, CLOCK_TOOL], tool_choice="auto")
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Checking again."
    calls = choice.message.tool_calls or []
    assert [(c.id, c.function.name) for c in calls] == [
        ("tooluse_A", "get_weather"),
        ("tooluse_B", "get_time"),
    ]
    assert json.loads(calls[0].function.arguments) == {"city": "Lyon"}
    assert json.loads(calls[1].function.arguments) == {}


@pytest.mark.parametrize(
    ("tool_choice", "expected"),
    [
        (None, None),
        ("auto", {"auto": {}}),
        ("required", {"any": {}}),
        ({"type": "function", "function": {"name": "get_time"}}, {"tool": {"name": "get_time"}}),
    ],
)
async def test_tool_choice_variants(
    chat: tuple[BedrockChatProvider, Stubber],
    tool_choice: Any,
    expected: dict[str, Any] | None,
) -> None:
    provider, stubber = chat
    tool_config: dict[str, Any] = {"tools": [WEATHER_SPEC, CLOCK_SPEC]}
    if expected is not None:
        tool_config["toolChoice"] = expected
    stubber.add_response(
        "converse",
        converse_response([{"text": "ok"}]),
        expected_params={
            "modelId": MODEL,
            "messages": [{"role": "user", "content": [{"text": "Hi"}]}],
            "toolConfig": tool_config,
        },
    )
    fields: dict[str, Any] = {"tools": [WEATHER_TOOL, CLOCK_TOOL]}
    if tool_choice is not None:
        fields["tool_choice"] = tool_choice
    await provider.complete(chat_request([{"role": "user", "content": "Hi"}], **fields))


async def test_tool_choice_none_omits_tool_config(
    chat: tuple[BedrockChatProvider, Stubber],
) -> None:
    provider, stubber = chat
    stubber.add_response(
        "converse",
        converse_response([{"text": "ok"}]),
        expected_params={
            "modelId": MODEL,
            "messages": [{"role": "user", "content": [{"text": "Hi"}]}],
        },
    )
    await provider.complete(
        chat_request([{"role": "user", "content": "Hi"}], tools=[WEATHER_TOOL], tool_choice="none")
    )


async def test_tool_history_without_tool_config_is_sent_as_text(
    chat: tuple[BedrockChatProvider, Stubber],
) -> None:
    """Bedrock rejects toolUse/toolResult blocks without toolConfig, and tool_choice none
    must not let the model call tools: the history is replayed as text instead."""
    provider, stubber = chat
    stubber.add_response(
        "converse",
        converse_response([{"text": "Paris: 18C at 14:05."}]),
        expected_params={
            "modelId": MODEL,
            "messages": [
                TOOL_HISTORY_TURNS[0],
                {
                    "role": "assistant",
                    "content": [
                        {"text": "Let me check."},
                        {"text": '[called tool get_weather with {"city": "Paris"}]'},
                        {"text": "[called tool get_time with {}]"},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"text": "[result of tool call call_1: 18C, cloudy]"},
                        {"text": "[result of tool call call_2: 14:05]"},
                        {"text": "Thanks, summarise."},
                    ],
                },
            ],
        },
    )
    completion = await provider.complete(
        chat_request(TOOL_HISTORY, tools=[WEATHER_TOOL, CLOCK_TOOL], tool_choice="none")
    )
    assert completion.choices[0].message.content == "Paris: 18C at 14:05."


async def test_same_role_neighbours_are_merged_and_blank_text_dropped(
    chat: tuple[BedrockChatProvider, Stubber],
) -> None:
    provider, stubber = chat
    stubber.add_response(
        "converse",
        converse_response([{"text": "ok"}]),
        expected_params={
            "modelId": MODEL,
            "system": [{"text": "Late system note."}],
            "messages": [
                {"role": "user", "content": [{"text": "one"}, {"text": "two"}]},
                {"role": "assistant", "content": [{"text": "a"}, {"text": "b"}]},
                {"role": "user", "content": [{"text": "three"}]},
            ],
        },
    )
    await provider.complete(
        chat_request(
            [
                {"role": "user", "content": "one"},
                {"role": "user", "content": ""},
                {"role": "user", "content": "two"},
                {"role": "assistant", "content": "a"},
                {"role": "system", "content": "Late system note."},
                {"role": "assistant", "content": "b"},
                {"role": "user", "content": "three"},
            ]
        )
    )


async def test_invalid_tool_call_arguments_are_refused(
    chat: tuple[BedrockChatProvider, Stubber],
) -> None:
    provider, _ = chat
    messages = [dict(message) for message in TOOL_HISTORY]
    messages[1] = {
        "role": "assistant",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": "{oops"},
            }
        ],
    }
    with pytest.raises(InvalidRequestError, match="call_1"):
        await provider.complete(chat_request(messages[:3], tools=[WEATHER_TOOL]))


SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "temp": {"type": "number"}},
    "required": ["city", "temp"],
}


async def test_json_schema_is_emulated_with_a_forced_tool(
    chat: tuple[BedrockChatProvider, Stubber],
) -> None:
    provider, stubber = chat
    stubber.add_response(
        "converse",
        converse_response(
            [
                {
                    "toolUse": {
                        "toolUseId": "t1",
                        "name": "weather_report",
                        "input": {"city": "Oslo", "temp": 3},
                    }
                }
            ],
            stop="tool_use",
        ),
        expected_params={
            "modelId": MODEL,
            "messages": [{"role": "user", "content": [{"text": "Weather in Oslo?"}]}],
            "toolConfig": {
                "tools": [
                    {
                        "toolSpec": {
                            "name": "weather_report",
                            "description": "A weather report.",
                            "inputSchema": {"json": SCHEMA},
                        }
                    }
                ],
                "toolChoice": {"tool": {"name": "weather_report"}},
            },
        },
    )
    completion = await provider.complete(
        chat_request(
            [{"role": "user", "content": "Weather in Oslo?"}],
            response_format={
                "type": "json_schema",
                "json_schema": {
                    "name": "weather report",
                    "description": "A weather report.",
                    "schema": SCHEMA,
                },
            },
        )
    )
    choice = completion.choices[0]
    assert json.loads(choice.message.content or "") == {"city": "Oslo", "temp": 3}
    assert choice.message.tool_calls is None
    assert choice.finish_reason == "stop"


async def test_json_schema_with_tools_is_refused(chat: tuple[BedrockChatProvider, Stubber]) -> None:
    provider, _ = chat
    request = chat_request(
        [{"role": "user", "content": "Hi"}],
        tools=[WEATHER_TOOL],
        response_format={"type": "json_schema", "json_schema": {"name": "r", "schema": SCHEMA}},
    )
    with pytest.raises(UnsupportedFeatureError, match="forced tool"):
        await provider.complete(request)


@pytest.mark.parametrize(
    ("stop", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("content_filtered", "content_filter"),
        ("guardrail_intervened", "content_filter"),
    ],
)
async def test_stop_reasons(
    chat: tuple[BedrockChatProvider, Stubber], stop: str, finish: str
) -> None:
    provider, stubber = chat
    stubber.add_response("converse", converse_response([{"text": "x"}], stop=stop))
    completion = await provider.complete(chat_request([{"role": "user", "content": "Hi"}]))
    assert completion.choices[0].finish_reason == finish


async def test_additional_model_request_fields_are_forwarded() -> None:
    provider = BedrockChatProvider(deployment(additional_model_request_fields={"top_k": 40}))
    with Stubber(provider.client) as stubber:
        stubber.add_response(
            "converse",
            converse_response([{"text": "ok"}]),
            expected_params={
                "modelId": MODEL,
                "messages": [{"role": "user", "content": [{"text": "Hi"}]}],
                "additionalModelRequestFields": {"top_k": 40},
            },
        )
        await provider.complete(chat_request([{"role": "user", "content": "Hi"}]))
        stubber.assert_no_pending_responses()
    await provider.aclose()


# --- Converse: errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status", "error", "retryable"),
    [
        ("ThrottlingException", 429, UpstreamRateLimitError, True),
        ("ServiceUnavailableException", 503, UpstreamUnavailableError, True),
        ("InternalServerException", 500, UpstreamUnavailableError, True),
        ("ModelNotReadyException", 429, UpstreamUnavailableError, True),
        ("ModelErrorException", 424, UpstreamUnavailableError, True),
        ("ModelTimeoutException", 408, UpstreamTimeoutError, True),
        ("AccessDeniedException", 403, UpstreamAuthError, False),
        ("UnrecognizedClientException", 403, UpstreamAuthError, False),
        ("ValidationException", 400, UpstreamRequestError, False),
        ("ResourceNotFoundException", 404, UpstreamRequestError, False),
        ("SomethingNewException", 502, UpstreamUnavailableError, True),
    ],
)
async def test_client_errors_map_to_platform_errors(
    chat: tuple[BedrockChatProvider, Stubber],
    code: str,
    status: int,
    error: type[UpstreamError],
    retryable: bool,
) -> None:
    provider, stubber = chat
    stubber.add_client_error(
        "converse",
        service_error_code=code,
        service_message="Malformed input request: temperature must be <= 1",
        http_status_code=status,
    )
    with pytest.raises(error) as caught:
        await provider.complete(chat_request([{"role": "user", "content": "Hi"}]))
    assert type(caught.value) is error
    assert caught.value.retryable is retryable
    assert caught.value.upstream_status == status
    assert SECRET not in caught.value.message
    assert "Traceback" not in caught.value.message
    if code == "ValidationException":
        assert "temperature must be <= 1" in caught.value.message
    if code == "ResourceNotFoundException":
        assert f"'{MODEL}' is not available on Bedrock in us-east-1" in caught.value.message


# --- a local Bedrock endpoint -------------------------------------------------------------


def eventstream_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One message in the AWS binary event-stream format (string headers only)."""
    encoded = b"".join(
        bytes([len(name)])
        + name.encode()
        + b"\x07"
        + struct.pack("!H", len(value))
        + value.encode()
        for name, value in headers.items()
    )
    prelude = struct.pack("!II", 12 + len(encoded) + len(payload) + 4, len(encoded))
    prelude += struct.pack("!I", zlib.crc32(prelude))
    message = prelude + encoded + payload
    return message + struct.pack("!I", zlib.crc32(message))


def event(kind: str, payload: dict[str, Any]) -> bytes:
    headers = {
        ":event-type": kind,
        ":content-type": "application/json",
        ":message-type": "event",
    }
    return eventstream_message(headers, json.dumps(payload).encode())


def stream_exception(kind: str, message: str) -> bytes:
    headers = {
        ":exception-type": kind,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return eventstream_message(headers, json.dumps({"message": message}).encode())


def text_delta(text: str, index: int = 0) -> bytes:
    return event("contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": text}})


def metadata(input_tokens: int = 9, output_tokens: int = 4, **extra: int) -> bytes:
    usage = {"inputTokens": input_tokens, "outputTokens": output_tokens, **extra}
    usage["totalTokens"] = sum(usage.values())
    return event("metadata", {"usage": usage, "metrics": METRICS})


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any


class BedrockHandler(BaseHTTPRequestHandler):
    """Answers as the test's script says; records every request."""

    protocol_version = "HTTP/1.1"
    server: FakeBedrockServer

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        received = Received(
            path=unquote(self.path),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=json.loads(raw) if raw else None,
        )
        self.server.fake.record(received)
        self.server.fake.script(self, received)

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def send_events(self, messages: Iterable[bytes], delay: float = 0.0) -> None:
        """A chunked event-stream response, one HTTP chunk per message, as Bedrock sends."""
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.amazon.eventstream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for message in messages:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(message), message))
                self.wfile.flush()
                if delay:
                    time.sleep(delay)
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.server.fake.disconnected.set()
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        return


class FakeBedrockServer(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeBedrock


@dataclass
class FakeBedrock:
    """A Bedrock runtime endpoint on 127.0.0.1; tests set ``script``."""

    script: Callable[[BedrockHandler, Received], None] = lambda handler, _: handler.send_json(
        500, {}
    )
    requests: list[Received] = field(default_factory=list)
    disconnected: threading.Event = field(default_factory=threading.Event)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, received: Received) -> None:
        with self._lock:
            self.requests.append(received)


@pytest.fixture
def fake_bedrock() -> Iterator[FakeBedrock]:
    fake = FakeBedrock()
    server = FakeBedrockServer(("127.0.0.1", 0), BedrockHandler)
    server.fake = fake
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
async def streaming(fake_bedrock: FakeBedrock) -> AsyncIterator[BedrockChatProvider]:
    provider = BedrockChatProvider(deployment(endpoint_url=fake_bedrock.url))
    yield provider
    await provider.aclose()


async def collect(
    stream: AsyncIterator[ChatCompletionChunk], into: list[ChatCompletionChunk] | None = None
) -> list[ChatCompletionChunk]:
    chunks = [] if into is None else into
    async for chunk in stream:
        chunks.append(chunk)
    return chunks


# --- ConverseStream -----------------------------------------------------------------------


async def test_stream_text_over_the_wire(
    fake_bedrock: FakeBedrock, streaming: BedrockChatProvider
) -> None:
    fake_bedrock.script = lambda handler, _: handler.send_events(
        [
            event("messageStart", {"role": "assistant"}),
            text_delta("Hel"),
            text_delta("lo!"),
            event("contentBlockStop", {"contentBlockIndex": 0}),
            event("messageStop", {"stopReason": "end_turn"}),
            metadata(9, 4, cacheReadInputTokens=20),
        ]
    )
    chunks = await collect(
        streaming.stream(
            chat_request(
                [{"role": "system", "content": "Be nice."}, {"role": "user", "content": "Hi"}],
                max_tokens=32,
            )
        )
    )
    (received,) = fake_bedrock.requests
    assert received.path == f"/model/{MODEL}/converse-stream"
    assert received.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIAFAKEKEY/")
    assert SECRET not in json.dumps(received.headers)
    assert received.body == {
        "system": [{"text": "Be nice."}],
        "messages": [{"role": "user", "content": [{"text": "Hi"}]}],
        "inferenceConfig": {"maxTokens": 32},
    }

    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].delta.content for c in chunks[1:3]] == ["Hel", "lo!"]
    assert chunks[3].choices[0].finish_reason == "stop"
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (29, 4)
    assert len(chunks) == 5
    assert len({c.id for c in chunks}) == 1


async def test_stream_tool_calls(fake_bedrock: FakeBedrock, streaming: BedrockChatProvider) -> None:
    def tool_start(index: int, tool_id: str, name: str) -> bytes:
        return event(
            "contentBlockStart",
            {
                "contentBlockIndex": index,
                "start": {"toolUse": {"toolUseId": tool_id, "name": name}},
            },
        )

    def tool_input(index: int, fragment: str) -> bytes:
        return event(
            "contentBlockDelta",
            {"contentBlockIndex": index, "delta": {"toolUse": {"input": fragment}}},
        )

    fake_bedrock.script = lambda handler, _: handler.send_events(
        [
            event("messageStart", {"role": "assistant"}),
            text_delta("Looking."),
            event("contentBlockStop", {"contentBlockIndex": 0}),
            tool_start(1, "tooluse_A", "get_weather"),
            tool_input(1, '{"ci'),
            tool_input(1, 'ty": "Rome"}'),
            event("contentBlockStop", {"contentBlockIndex": 1}),
            tool_start(2, "tooluse_B", "get_time"),
            tool_input(2, "{}"),
            event("contentBlockStop", {"contentBlockIndex": 2}),
            event("messageStop", {"stopReason": "tool_use"}),
            metadata(),
        ]
    )
    chunks = await collect(
        streaming.stream(
            chat_request([{"role": "user", "content": "Rome?"}], tools=[WEATHER_TOOL, CLOCK_TOOL])
        )
    )
    assert fake_bedrock.requests[0].body["toolConfig"] == {"tools": [WEATHER_SPEC, CLOCK_SPEC]}

    calls = [
        call
        for chunk in chunks
        for choice in chunk.choices
        for call in choice.delta.tool_calls or []
    ]
    starts = [(c.index, c.id, c.function.name) for c in calls if c.id]
    assert starts == [(0, "tooluse_A", "get_weather"), (1, "tooluse_B", "get_time")]
    arguments: dict[int, str] = {}
    for call in calls:
        arguments[call.index] = arguments.get(call.index, "") + (call.function.arguments or "")
    assert json.loads(arguments[0]) == {"city": "Rome"}
    assert json.loads(arguments[1]) == {}
    finishes = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finishes == ["tool_calls"]
    assert chunks[-1].usage is not None


async def test_stream_json_schema_arrives_as_content(
    fake_bedrock: FakeBedrock, streaming: BedrockChatProvider
) -> None:
    fake_bedrock.script = lambda handler, _: handler.send_events(
        [
            event("messageStart", {"role": "assistant"}),
            event(
                "contentBlockStart",
                {
                    "contentBlockIndex": 0,
                    "start": {"toolUse": {"toolUseId": "t", "name": "report"}},
                },
            ),
            event(
                "contentBlockDelta",
                {"contentBlockIndex": 0, "delta": {"toolUse": {"input": '{"city": "Oslo", '}}},
            ),
            event(
                "contentBlockDelta",
                {"contentBlockIndex": 0, "delta": {"toolUse": {"input": '"temp": 3}'}}},
            ),
            event("messageStop", {"stopReason": "tool_use"}),
            metadata(),
        ]
    )
    chunks = await collect(
        streaming.stream(
            chat_request(
                [{"role": "user", "content": "Oslo?"}],
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": "report", "schema": SCHEMA},
                },
            )
        )
    )
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert json.loads(content) == {"city": "Oslo", "temp": 3}
    assert all(c.choices[0].delta.tool_calls is None for c in chunks if c.choices)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("throttlingException", UpstreamRateLimitError),
        ("modelStreamErrorException", UpstreamUnavailableError),
        ("internalServerException", UpstreamUnavailableError),
        ("serviceUnavailableException", UpstreamUnavailableError),
        ("validationException", UpstreamRequestError),
    ],
)
async def test_stream_error_events_raise_after_the_first_chunks(
    fake_bedrock: FakeBedrock,
    streaming: BedrockChatProvider,
    kind: str,
    error: type[UpstreamError],
) -> None:
    fake_bedrock.script = lambda handler, _: handler.send_events(
        [
            event("messageStart", {"role": "assistant"}),
            text_delta("partial"),
            stream_exception(kind, "the model stream broke"),
        ]
    )
    received: list[ChatCompletionChunk] = []
    stream = streaming.stream(chat_request([{"role": "user", "content": "Hi"}]))
    with pytest.raises(error) as caught:
        await collect(stream, into=received)
    assert type(caught.value) is error
    assert [c.choices[0].delta.content for c in received] == ["", "partial"]


async def test_stream_http_error_raises_before_any_chunk(
    fake_bedrock: FakeBedrock, streaming: BedrockChatProvider
) -> None:
    fake_bedrock.script = lambda handler, _: handler.send_json(
        429,
        {"message": "Too many requests, please wait before trying again."},
        {"x-amzn-ErrorType": "ThrottlingException:http://internal.amazon.com/coral/"},
    )
    stream = streaming.stream(chat_request([{"role": "user", "content": "Hi"}]))
    with pytest.raises(UpstreamRateLimitError) as caught:
        await anext(stream)
    assert caught.value.upstream_status == 429


async def test_stream_cut_before_message_stop_is_an_upstream_failure(
    fake_bedrock: FakeBedrock, streaming: BedrockChatProvider
) -> None:
    fake_bedrock.script = lambda handler, _: handler.send_events(
        [event("messageStart", {"role": "assistant"}), text_delta("half an ans")]
    )
    with pytest.raises(UpstreamUnavailableError, match="before the answer was done"):
        await collect(streaming.stream(chat_request([{"role": "user", "content": "Hi"}])))


async def test_stream_does_not_block_the_event_loop(
    fake_bedrock: FakeBedrock, streaming: BedrockChatProvider
) -> None:
    def slow(handler: BedrockHandler, _: Received) -> None:
        time.sleep(0.5)
        handler.send_events(
            [
                event("messageStart", {"role": "assistant"}),
                text_delta("late"),
                event("messageStop", {"stopReason": "end_turn"}),
                metadata(),
            ]
        )

    fake_bedrock.script = slow
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.02)
            ticks += 1

    ticking = asyncio.create_task(ticker())
    chunks = await collect(streaming.stream(chat_request([{"role": "user", "content": "Hi"}])))
    ticking.cancel()
    assert chunks[1].choices[0].delta.content == "late"
    assert ticks >= 10


def endless_tokens(fake: FakeBedrock) -> Callable[[BedrockHandler, Received], None]:
    """A model that keeps generating until the client goes away."""

    def tokens() -> Iterator[bytes]:
        yield event("messageStart", {"role": "assistant"})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            yield text_delta("token ")

    return lambda handler, _: handler.send_events(tokens(), delay=0.02)


@pytest.mark.parametrize("how", ["cancel", "aclose"])
async def test_leaving_the_stream_stops_the_reader_and_closes_the_connection(
    fake_bedrock: FakeBedrock, streaming: BedrockChatProvider, how: str
) -> None:
    fake_bedrock.script = endless_tokens(fake_bedrock)
    stream = cast(
        AsyncGenerator[ChatCompletionChunk, None],
        streaming.stream(chat_request([{"role": "user", "content": "Go on forever"}])),
    )
    seen: list[ChatCompletionChunk] = []
    enough = asyncio.Event()

    async def consume() -> None:
        async for chunk in stream:
            seen.append(chunk)
            if len(seen) >= 3:
                enough.set()
                if how == "aclose":
                    break

    consumer = asyncio.create_task(consume())
    await asyncio.wait_for(enough.wait(), timeout=5)
    if how == "cancel":
        consumer.cancel()
    else:
        await stream.aclose()
    with contextlib.suppress(asyncio.CancelledError):
        await consumer
    assert streaming.active_streams in (0, 1)

    for _ in range(250):
        if not streaming.active_streams:
            break
        await asyncio.sleep(0.02)
    assert streaming.active_streams == 0
    assert await asyncio.to_thread(fake_bedrock.disconnected.wait, 5)


# --- transport failures (real wire) -------------------------------------------------------


async def test_read_timeout_is_an_upstream_timeout(fake_bedrock: FakeBedrock) -> None:
    def stall(handler: BedrockHandler, _: Received) -> None:
        time.sleep(1.0)
        handler.send_json(200, converse_response([{"text": "too late"}]))

    fake_bedrock.script = stall
    provider = BedrockChatProvider(deployment(endpoint_url=fake_bedrock.url, timeout_seconds=0.2))
    with pytest.raises(UpstreamTimeoutError) as caught:
        await provider.complete(chat_request([{"role": "user", "content": "Hi"}]))
    assert caught.value.retryable
    await provider.aclose()


async def test_botocore_does_not_retry_because_the_gateway_does(fake_bedrock: FakeBedrock) -> None:
    fake_bedrock.script = lambda handler, _: handler.send_json(
        503,
        {"message": "Bedrock is unavailable"},
        {"x-amzn-ErrorType": "ServiceUnavailableException"},
    )
    provider = BedrockChatProvider(deployment(endpoint_url=fake_bedrock.url))
    with pytest.raises(UpstreamUnavailableError):
        await provider.complete(chat_request([{"role": "user", "content": "Hi"}]))
    assert len(fake_bedrock.requests) == 1
    await provider.aclose()


async def test_unreachable_endpoint_is_upstream_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = BedrockChatProvider(deployment(endpoint_url=f"http://127.0.0.1:{port}"))
    with pytest.raises(UpstreamUnavailableError, match="EndpointConnectionError"):
        await provider.complete(chat_request([{"role": "user", "content": "Hi"}]))
    await provider.aclose()


async def test_missing_credentials_are_an_auth_error(
    fake_bedrock: FakeBedrock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    provider = BedrockChatProvider(deployment(endpoint_url=fake_bedrock.url))
    with pytest.raises(UpstreamAuthError, match="credential chain") as caught:
        await provider.complete(chat_request([{"role": "user", "content": "Hi"}]))
    assert not caught.value.retryable
    assert fake_bedrock.requests == []
    await provider.aclose()


# --- embeddings ---------------------------------------------------------------------------


class JsonBody:
    """Matches an InvokeModel body by its JSON value, not its byte layout."""

    def __init__(self, expected: Any) -> None:
        self.expected = expected

    def __eq__(self, other: object) -> bool:
        return isinstance(other, bytes | str) and json.loads(other) == self.expected

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"JsonBody({self.expected!r})"


def invoke_response(payload: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    data = json.dumps(payload).encode()
    response: dict[str, Any] = {
        "body": StreamingBody(io.BytesIO(data), len(data)),
        "contentType": "application/json",
    }
    if headers is not None:
        response["ResponseMetadata"] = {"HTTPStatusCode": 200, "HTTPHeaders": headers}
    return response


def invoke_params(model: str, body: Any) -> dict[str, Any]:
    return {
        "modelId": model,
        "body": JsonBody(body),
        "contentType": "application/json",
        "accept": "application/json",
    }


async def test_titan_embeds_one_text_per_call() -> None:
    model = "amazon.titan-embed-text-v2:0"
    provider = BedrockEmbeddingProvider(deployment(model, dimensions=3, max_concurrency=1))
    with Stubber(provider.client) as stubber:
        for index, text in enumerate(["alpha", "beta"]):
            stubber.add_response(
                "invoke_model",
                invoke_response({"embedding": [index, 0.5, 1.0], "inputTextTokenCount": 2 + index}),
                expected_params=invoke_params(model, {"inputText": text, "dimensions": 3}),
            )
        result = await provider.embed(["alpha", "beta"])
        stubber.assert_no_pending_responses()
    assert result.vectors == [[0.0, 0.5, 1.0], [1.0, 0.5, 1.0]]
    assert result.prompt_tokens == 5
    await provider.aclose()


async def test_cohere_embeds_in_batches_of_96() -> None:
    model = "cohere.embed-english-v3"
    texts = [f"text number {i}" for i in range(100)]
    provider = BedrockEmbeddingProvider(deployment(model, max_concurrency=1))
    with Stubber(provider.client) as stubber:
        stubber.add_response(
            "invoke_model",
            invoke_response(
                {
                    "embeddings": [[float(i)] for i in range(96)],
                    "response_type": "embeddings_floats",
                },
                headers={"x-amzn-bedrock-input-token-count": "300"},
            ),
            expected_params=invoke_params(
                model, {"texts": texts[:96], "input_type": "search_document"}
            ),
        )
        stubber.add_response(
            "invoke_model",
            invoke_response({"embeddings": {"float": [[float(i)] for i in range(96, 100)]}}),
            expected_params=invoke_params(
                model, {"texts": texts[96:], "input_type": "search_document"}
            ),
        )
        result = await provider.embed(texts)
        stubber.assert_no_pending_responses()
    assert result.vectors == [[float(i)] for i in range(100)]
    # The first batch's count comes from Bedrock's header; the second is estimated.
    assert result.prompt_tokens == 300 + sum(-(-len(text) // 4) for text in texts[96:])
    await provider.aclose()


async def test_cohere_input_type_comes_from_options() -> None:
    model = "cohere.embed-multilingual-v3"
    provider = BedrockEmbeddingProvider(deployment(model, input_type="search_query"))
    with Stubber(provider.client) as stubber:
        stubber.add_response(
            "invoke_model",
            invoke_response({"embeddings": [[0.1, 0.2]]}),
            expected_params=invoke_params(model, {"texts": ["q"], "input_type": "search_query"}),
        )
        result = await provider.embed(["q"])
    assert result.vectors == [[0.1, 0.2]]
    await provider.aclose()


async def test_embedding_errors_map_like_chat_errors() -> None:
    provider = BedrockEmbeddingProvider(deployment("amazon.titan-embed-text-v1"))
    with Stubber(provider.client) as stubber:
        stubber.add_client_error(
            "invoke_model", service_error_code="ThrottlingException", http_status_code=429
        )
        with pytest.raises(UpstreamRateLimitError):
            await provider.embed(["x"])
    await provider.aclose()


async def test_titan_calls_run_concurrently_but_bounded(fake_bedrock: FakeBedrock) -> None:
    in_flight = 0
    peak = 0
    lock = threading.Lock()

    def embed(handler: BedrockHandler, received: Received) -> None:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.05)
        with lock:
            in_flight -= 1
        text = received.body["inputText"]
        handler.send_json(200, {"embedding": [float(len(text))], "inputTextTokenCount": 1})

    fake_bedrock.script = embed
    provider = BedrockEmbeddingProvider(
        deployment("amazon.titan-embed-text-v2:0", endpoint_url=fake_bedrock.url, max_concurrency=3)
    )
    texts = ["x" * n for n in range(1, 13)]
    result = await provider.embed(texts)
    assert result.vectors == [[float(n)] for n in range(1, 13)]
    assert result.prompt_tokens == 12
    assert 1 < peak <= 3
    assert {r.path for r in fake_bedrock.requests} == {"/model/amazon.titan-embed-text-v2:0/invoke"}
    await provider.aclose()


# --- construction -------------------------------------------------------------------------


@pytest.mark.parametrize("variable", ["AWS_REGION", "AWS_DEFAULT_REGION"])
async def test_client_is_built_once_with_gateway_friendly_config(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv(variable, "eu-west-3")
    provider = build_chat_provider(
        Deployment(
            provider="bedrock",
            model=MODEL,
            timeout_seconds=7,
            options={"endpoint_url": "http://127.0.0.1:9", "max_concurrency": 4},
        )
    )
    assert isinstance(provider, BedrockChatProvider)
    config: Any = provider.client.meta.config  # botocore-stubs omit Config's fields
    assert provider.client.meta.region_name == "eu-west-3"
    assert provider.client.meta.endpoint_url == "http://127.0.0.1:9"
    assert (config.connect_timeout, config.read_timeout) == (7, 7)
    assert config.retries == {"mode": "standard", "total_max_attempts": 1}
    assert config.max_pool_connections == 4
    await provider.aclose()


def test_missing_region_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="region"):
        BedrockChatProvider(Deployment(provider="bedrock", model=MODEL))


def test_unknown_embedding_model_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="Titan"):
        build_embedding_provider(deployment("amazon.nova-pro-v1:0"))


@pytest.mark.parametrize("value", [0, "many", True])
def test_bad_concurrency_is_a_configuration_error(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="max_concurrency"):
        BedrockChatProvider(deployment(max_concurrency=value))
