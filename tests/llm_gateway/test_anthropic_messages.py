"""The official Anthropic SDK against the gateway's Messages API, on a real loopback server
over the scripted ``test`` provider: answers, tools, streaming, token counts, errors in
Anthropic's format, both key headers, plan limits, and the ledger."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest
from anthropic import AsyncAnthropic
from pydantic import SecretStr

from agentic_platform.app import create_app
from agentic_platform.llm_gateway.catalog import Deployment, ModelEntry
from agentic_platform.settings import AuthSettings, Settings
from agentic_platform.testing.catalog import scripted_models
from agentic_platform.testing.server import serve_in_thread

MESSAGES = "/llm/v1/messages"
WEATHER_TOOL: dict[str, Any] = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}
WORDS = "hi there"


class Platform:
    def __init__(self, url: str, admin_key: str) -> None:
        self.url = url
        self.admin_key = admin_key

    def sdk(self, key: str | None = None, **options: Any) -> AsyncAnthropic:
        """The SDK as a user configures it: the platform's ``/llm`` as base URL."""
        if "auth_token" not in options:
            options["api_key"] = key or self.admin_key
        return AsyncAnthropic(base_url=f"{self.url}/llm", max_retries=0, **options)

    def http(self, key: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, headers={"x-api-key": key}, timeout=30)

    async def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        async with self.http(self.admin_key) as http:
            response = await http.request(method, f"/admin/v1{path}", **kwargs)
        assert response.status_code < 300, response.text
        return response.json()

    async def user(self, **plan: Any) -> tuple[str, str]:
        principal = await self.admin("POST", "/principals", json={"name": "claude-user"})
        key: dict[str, Any] = {"principal_id": principal["id"]}
        if plan:
            made = await self.admin("POST", "/plans", json={"name": f"p{time.time_ns()}", **plan})
            key["plan_id"] = made["id"]
        issued = await self.admin("POST", "/keys", json=key)
        return principal["id"], issued["secret"]

    async def rows(self, principal_id: str, count: int) -> list[dict[str, Any]]:
        deadline = time.monotonic() + 10
        while True:
            found = await self.admin("GET", "/usage/records", params={"principal_id": principal_id})
            rows: list[dict[str, Any]] = found["records"]
            if len(rows) >= count or time.monotonic() > deadline:
                return rows
            await asyncio.sleep(0.1)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory, admin_key: str) -> Iterator[Platform]:
    slow = Deployment(provider="test", model="slow", options={"delay_seconds": 0.3})
    settings = Settings(
        data_dir=Path(tmp_path_factory.mktemp("messages")) / "data",
        models=[
            *scripted_models(),
            ModelEntry(alias="slow-echo", capabilities={"chat", "streaming"}, deployments=[slow]),
        ],
        auth=AuthSettings(bootstrap_admin_key=SecretStr(admin_key)),
        log_requests=False,
        gateway={"retry_backoff_seconds": 0.01, "max_body_bytes": 64 * 1024},  # type: ignore[arg-type]
    )
    settings.governance.ledger_flush_seconds = 0.05
    settings.governance.change_poll_seconds = 0.2
    with serve_in_thread(create_app(settings)) as url:
        yield Platform(url, admin_key)


# --- answers --------------------------------------------------------------------------------


async def test_plain_message(platform: Platform) -> None:
    message = await platform.sdk().messages.create(
        model="echo",
        max_tokens=64,
        messages=[{"role": "user", "content": "the quick brown fox"}],
        metadata={"user_id": "alice"},
        stop_sequences=["never seen"],
        extra_body={"temperature": 0.5, "top_p": 0.9},  # not in this SDK's signature
    )
    assert message.type == "message" and message.role == "assistant"
    assert message.id.startswith("msg_")
    assert message.model == "echo"
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == "the quick brown fox"  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (4, 4)


async def test_system_prompt_reaches_the_model(platform: Platform) -> None:
    # The scripted model counts a word a token: the system prompt's three words are in the
    # prompt, in both of Anthropic's forms.
    sdk = platform.sdk()
    for system in ("Repeat after me.", [{"type": "text", "text": "Repeat after me."}]):
        message = await sdk.messages.create(
            model="echo",
            max_tokens=64,
            system=system,  # type: ignore[arg-type]
            messages=[{"role": "user", "content": "the quick brown fox"}],
        )
        assert message.usage.input_tokens == 7


async def test_multi_turn_with_content_blocks(platform: Platform) -> None:
    message = await platform.sdk().messages.create(
        model="echo",
        max_tokens=64,
        messages=[
            {"role": "user", "content": "one"},
            {"role": "assistant", "content": [{"type": "text", "text": "uno"}]},
            {"role": "user", "content": [{"type": "text", "text": "two three"}]},
        ],
    )
    assert message.content[0].text == "two three"  # type: ignore[union-attr]
    assert message.usage.input_tokens == 4


async def test_max_tokens_stops_with_max_tokens(platform: Platform) -> None:
    message = await platform.sdk().messages.create(
        model="echo", max_tokens=2, messages=[{"role": "user", "content": "one two three four"}]
    )
    assert message.content[0].text == "one two"  # type: ignore[union-attr]
    assert message.stop_reason == "max_tokens"


async def test_images_are_accepted(platform: Platform) -> None:
    message = await platform.sdk().messages.create(
        model="echo",
        max_tokens=64,
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0K"},
                    },
                    {"type": "text", "text": "describe it"},
                ],
            }
        ],
    )
    assert message.content[0].text == "describe it"  # type: ignore[union-attr]


async def test_tools_round_trip(platform: Platform) -> None:
    sdk = platform.sdk()
    messages: list[Any] = [{"role": "user", "content": "Weather in Oslo?"}]
    first = await sdk.messages.create(
        model="weather-bot", max_tokens=64, messages=messages, tools=[WEATHER_TOOL]
    )
    assert first.stop_reason == "tool_use"
    (call,) = [block for block in first.content if block.type == "tool_use"]
    assert call.name == "get_weather" and call.input == {"city": "Oslo"}
    messages += [
        {"role": "assistant", "content": first.content},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "clear sky"}],
        },
    ]
    second = await sdk.messages.create(
        model="weather-bot",
        max_tokens=64,
        messages=messages,
        tools=[WEATHER_TOOL],
        tool_choice={"type": "tool", "name": "get_weather"},
    )
    assert second.stop_reason == "end_turn"
    assert second.content[0].text == "It is sunny in Oslo."  # type: ignore[union-attr]


# --- streaming --------------------------------------------------------------------------------


async def test_streamed_text_with_the_sdk_helper(platform: Platform) -> None:
    async with platform.sdk().messages.stream(
        model="echo", max_tokens=64, messages=[{"role": "user", "content": "stream me please"}]
    ) as stream:
        pieces = [text async for text in stream.text_stream]
        final = await stream.get_final_message()
    assert len(pieces) == 3 and "".join(pieces) == "stream me please"
    assert final.content[0].text == "stream me please"  # type: ignore[union-attr]
    assert final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (3, 3)


async def test_streamed_tool_input(platform: Platform) -> None:
    async with platform.sdk().messages.stream(
        model="weather-bot",
        max_tokens=64,
        messages=[{"role": "user", "content": "Weather?"}],
        tools=[WEATHER_TOOL],
    ) as stream:
        partial = [event.partial_json async for event in stream if event.type == "input_json"]
        final = await stream.get_final_message()
    assert json.loads("".join(partial)) == {"city": "Oslo"}
    assert final.stop_reason == "tool_use"
    (call,) = final.content
    assert call.type == "tool_use" and call.input == {"city": "Oslo"}


async def test_the_event_sequence_is_anthropics(platform: Platform) -> None:
    body = {
        "model": "echo",
        "max_tokens": 16,
        "stream": True,
        "messages": [{"role": "user", "content": "a b"}],
    }
    async with platform.http(platform.admin_key) as http:
        response = await http.post(MESSAGES, json=body)
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [
        line.removeprefix("event: ")
        for line in response.text.splitlines()
        if line.startswith("event: ")
    ]
    data = [
        json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: ")
    ]
    assert events == [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert [item["type"] for item in data] == events
    assert data[-2]["delta"]["stop_reason"] == "end_turn"
    assert data[-2]["usage"] == {"input_tokens": 2, "output_tokens": 2}


# --- count_tokens -------------------------------------------------------------------------------


async def test_count_tokens_is_the_metering_estimate(platform: Platform) -> None:
    sdk = platform.sdk()
    plain = await sdk.messages.count_tokens(
        model="echo", messages=[{"role": "user", "content": "the quick brown fox"}]
    )
    # The estimate for a provider that has no tokenizer here: 19 characters at three a
    # token (7), plus 4 for the message.
    assert plain.input_tokens == 11
    with_system = await sdk.messages.count_tokens(
        model="echo",
        system="Repeat after me.",
        messages=[{"role": "user", "content": "the quick brown fox"}],
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
    )
    assert with_system.input_tokens > plain.input_tokens + 6


async def test_count_tokens_of_an_unknown_model_is_a_404(platform: Platform) -> None:
    with pytest.raises(anthropic.NotFoundError) as raised:
        await platform.sdk().messages.count_tokens(
            model="claude-nope", messages=[{"role": "user", "content": "x"}]
        )
    assert raised.value.body == {
        "type": "error",
        "error": {"type": "not_found_error", "message": raised.value.body["error"]["message"]},  # type: ignore[index]
    }
    assert "claude-nope" in raised.value.body["error"]["message"]  # type: ignore[index]


# --- errors -------------------------------------------------------------------------------------


def _error(raised: pytest.ExceptionInfo[anthropic.APIStatusError]) -> dict[str, Any]:
    body = raised.value.body
    assert isinstance(body, dict) and body["type"] == "error", body
    assert set(body) == {"type", "error"} and set(body["error"]) == {"type", "message"}
    error: dict[str, Any] = body["error"]
    return error


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({"model": "echo", "messages": [{"role": "user", "content": "x"}]}, "max_tokens"),
        ({"model": "echo", "max_tokens": 8, "messages": []}, "messages"),
        (
            {"model": "echo", "max_tokens": 8, "messages": [{"role": "robot", "content": "x"}]},
            "role",
        ),
        (
            {
                "model": "echo",
                "max_tokens": 8,
                "messages": [{"role": "user", "content": [{"type": "video", "url": "x"}]}],
            },
            "video",
        ),
        (
            {"model": "echo", "max_tokens": 8, "messages": [{"role": "user", "content": 5}]},
            "'messages.0.content': Input should be a string or a list of content blocks",
        ),
        (
            {
                "model": "echo",
                "max_tokens": 8,
                "messages": [{"role": "user", "content": [{"type": "text", "text": 4}]}],
            },
            "'messages.0.content.0.text'",
        ),
        (
            {
                "model": "echo",
                "max_tokens": 8,
                "messages": [{"role": "user", "content": [{"type": "tool_result"}]}],
            },
            "'messages.0.content.0.tool_use_id': Field required",
        ),
        (
            {
                "model": "echo",
                "max_tokens": 8,
                "temperature": 1.5,
                "messages": [{"role": "user", "content": "x"}],
            },
            "temperature",
        ),
        (
            {
                "model": "weather-bot",
                "max_tokens": 8,
                "tools": [WEATHER_TOOL],
                "tool_choice": {"type": "tool", "name": "other"},
                "messages": [{"role": "user", "content": "x"}],
            },
            "other",
        ),
    ],
)
async def test_bad_input_is_a_400_in_anthropics_format(
    platform: Platform, body: dict[str, Any], names: str
) -> None:
    with pytest.raises(anthropic.BadRequestError) as raised:
        await platform.sdk().post(MESSAGES.removeprefix("/llm"), cast_to=object, body=body)
    error = _error(raised)
    assert error["type"] == "invalid_request_error"
    assert names in error["message"], error["message"]


async def test_malformed_json_is_a_400(platform: Platform) -> None:
    async with platform.http(platform.admin_key) as http:
        response = await http.post(MESSAGES, content=b"{not json")
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    assert "not valid JSON" in body["error"]["message"]


async def test_a_feature_the_model_lacks_is_a_400(platform: Platform) -> None:
    with pytest.raises(anthropic.BadRequestError) as raised:
        await platform.sdk().messages.create(
            model="text-only",
            max_tokens=8,
            messages=[{"role": "user", "content": "x"}],
            tools=[WEATHER_TOOL],  # type: ignore[list-item]
        )
    assert "tools" in _error(raised)["message"]


# --- keys and limits ---------------------------------------------------------------------------


async def test_both_key_headers_are_accepted(platform: Platform) -> None:
    _, secret = await platform.user()
    ask: dict[str, Any] = {
        "model": "echo",
        "max_tokens": 8,
        "messages": [{"role": "user", "content": "hello"}],
    }
    by_header = await platform.sdk(secret).messages.create(**ask)
    by_bearer = await platform.sdk(auth_token=secret).messages.create(**ask)
    assert by_header.content == by_bearer.content


async def test_an_unknown_key_is_a_401(platform: Platform) -> None:
    ask: dict[str, Any] = {
        "model": "echo",
        "max_tokens": 8,
        "messages": [{"role": "user", "content": "x"}],
    }
    with pytest.raises(anthropic.AuthenticationError) as raised:
        await platform.sdk("ap-not-a-key").messages.create(**ask)
    assert _error(raised)["type"] == "authentication_error"
    with pytest.raises(anthropic.AuthenticationError):
        await platform.sdk(auth_token="ap-not-a-key").messages.count_tokens(
            model="echo", messages=[{"role": "user", "content": "x"}]
        )


async def test_a_plan_limit_is_a_429(platform: Platform) -> None:
    _, secret = await platform.user(requests_per_minute=1)
    sdk = platform.sdk(secret)
    ask: dict[str, Any] = {
        "model": "echo",
        "max_tokens": 8,
        "messages": [{"role": "user", "content": "x"}],
    }
    await sdk.messages.create(**ask)
    with pytest.raises(anthropic.RateLimitError) as raised:
        await sdk.messages.create(**ask)
    error = _error(raised)
    assert error["type"] == "rate_limit_error"
    assert "requests per minute" in error["message"]
    assert raised.value.response.headers.get("retry-after")


async def test_a_key_limited_to_other_models_is_refused(platform: Platform) -> None:
    principal = await platform.admin("POST", "/principals", json={"name": "narrow"})
    issued = await platform.admin(
        "POST", "/keys", json={"principal_id": principal["id"], "allowed_models": ["weather-*"]}
    )
    sdk = platform.sdk(issued["secret"])
    with pytest.raises(anthropic.PermissionDeniedError) as raised:
        await sdk.messages.count_tokens(model="echo", messages=[{"role": "user", "content": "x"}])
    assert _error(raised)["type"] == "permission_error"
    with pytest.raises(anthropic.PermissionDeniedError):
        await sdk.messages.create(
            model="echo", max_tokens=8, messages=[{"role": "user", "content": "x"}]
        )


# --- the ledger ------------------------------------------------------------------------------


async def test_usage_is_recorded_in_the_ledger(platform: Platform) -> None:
    principal_id, secret = await platform.user()
    sdk = platform.sdk(secret)
    message = await sdk.messages.create(
        model="echo", max_tokens=64, messages=[{"role": "user", "content": "count these words"}]
    )
    async with sdk.messages.stream(
        model="echo", max_tokens=64, messages=[{"role": "user", "content": "and these"}]
    ) as stream:
        streamed = await stream.get_final_message()
    rows = sorted(await platform.rows(principal_id, 2), key=lambda row: row["streamed"])
    assert [(row["endpoint"], row["model"], row["status"]) for row in rows] == [
        ("messages", "echo", 200),
        ("messages", "echo", 200),
    ]
    assert (rows[0]["input_tokens"], rows[0]["output_tokens"]) == (
        message.usage.input_tokens,
        message.usage.output_tokens,
    )
    assert (rows[1]["input_tokens"], rows[1]["output_tokens"]) == (
        streamed.usage.input_tokens,
        streamed.usage.output_tokens,
    )


async def test_a_stream_hung_up_on_is_metered(platform: Platform) -> None:
    principal_id, secret = await platform.user()
    body = {
        "model": "slow-echo",
        "max_tokens": 64,
        "stream": True,
        "messages": [{"role": "user", "content": WORDS}],
    }
    text = ""
    async with platform.http(secret) as http, http.stream("POST", MESSAGES, json=body) as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                event = json.loads(line[6:])
                assert event["type"] != "message_delta"
                if event["type"] == "content_block_delta":
                    text += event["delta"]["text"]
            if text == WORDS:
                break  # leaving the block closes the connection mid-stream
    (row,) = await platform.rows(principal_id, 1)
    assert (row["endpoint"], row["status"], row["error_type"]) == (
        "messages",
        499,
        "client_disconnected",
    )
    assert row["streamed"] is True
    # Counted by the metering: "hi there" is 3 tokens plus 4 for the message; the output,
    # 8 characters in 2 chunks, is 3.
    assert (row["input_tokens"], row["output_tokens"]) == (7, 3)
