"""Upstream failures through the whole gateway: retries with backoff, Retry-After, fallback
to the next deployment, timeouts, cancellation on disconnect and errors mid-stream."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from aiohttp import web

from agentic_platform.app import create_app
from agentic_platform.llm_gateway.catalog import Deployment, ModelEntry
from agentic_platform.settings import Settings
from agentic_platform.testing.server import serve_in_thread
from agentic_platform.testing.upstream import FakeUpstream

COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "upstream-model",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "pong"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}


def _deployment(upstream: FakeUpstream, name: str, **options: object) -> Deployment:
    return Deployment(
        provider="openai",
        model="upstream-model",
        api_base=f"{upstream.base_url}/{name}/v1",
        **options,
    )


@pytest.fixture
def gateway(settings: Settings, upstream: FakeUpstream, tmp_path: Path) -> Iterator[str]:
    settings.models = [
        ModelEntry(
            alias="resilient",
            deployments=[
                _deployment(upstream, "primary", max_retries=1, timeout_seconds=1.0),
                _deployment(upstream, "backup", max_retries=0, timeout_seconds=1.0),
            ],
        )
    ]
    settings.gateway.retry_backoff_max_seconds = 1.0
    with serve_in_thread(create_app(settings)) as url:
        yield url


def scripted(upstream: FakeUpstream, path: str, statuses: list[int], **headers: str) -> list[float]:
    """Answer with each status in turn (then 200 forever); returns the arrival times."""
    arrivals: list[float] = []

    async def handler(_request: web.Request) -> web.StreamResponse:
        arrivals.append(time.monotonic())
        status = statuses.pop(0) if statuses else 200
        if status == 200:
            return web.json_response(COMPLETION)
        return web.json_response(
            {"error": {"message": f"upstream says {status}"}}, status=status, headers=headers
        )

    upstream.on(path, handler)
    return arrivals


def client(url: str, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{url}/llm/v1", api_key=key, max_retries=0, timeout=20)


PING = [{"role": "user", "content": "ping"}]


async def test_retries_a_5xx_then_succeeds(
    gateway: str, admin_key: str, upstream: FakeUpstream
) -> None:
    arrivals = scripted(upstream, "/primary/v1/chat/completions", [500])
    answer = await client(gateway, admin_key).chat.completions.create(
        model="resilient", messages=PING
    )
    assert answer.choices[0].message.content == "pong"
    assert answer.model == "resilient"
    assert len(arrivals) == 2


async def test_honours_retry_after(gateway: str, admin_key: str, upstream: FakeUpstream) -> None:
    arrivals = scripted(upstream, "/primary/v1/chat/completions", [429], **{"Retry-After": "0.5"})
    await client(gateway, admin_key).chat.completions.create(model="resilient", messages=PING)
    assert arrivals[1] - arrivals[0] >= 0.45


async def test_falls_back_to_the_next_deployment(
    gateway: str, admin_key: str, upstream: FakeUpstream
) -> None:
    primary = scripted(upstream, "/primary/v1/chat/completions", [503, 503, 503])
    backup = scripted(upstream, "/backup/v1/chat/completions", [])
    answer = await client(gateway, admin_key).chat.completions.create(
        model="resilient", messages=PING
    )
    assert answer.choices[0].message.content == "pong"
    assert (len(primary), len(backup)) == (2, 1)


async def test_a_long_retry_after_falls_back_at_once(
    gateway: str, admin_key: str, upstream: FakeUpstream
) -> None:
    primary = scripted(upstream, "/primary/v1/chat/completions", [429], **{"Retry-After": "120"})
    backup = scripted(upstream, "/backup/v1/chat/completions", [])
    started = time.monotonic()
    await client(gateway, admin_key).chat.completions.create(model="resilient", messages=PING)
    assert time.monotonic() - started < 5
    assert (len(primary), len(backup)) == (1, 1)


async def test_an_invalid_request_is_not_retried(
    gateway: str, admin_key: str, upstream: FakeUpstream
) -> None:
    primary = scripted(upstream, "/primary/v1/chat/completions", [400])
    backup = scripted(upstream, "/backup/v1/chat/completions", [])
    with pytest.raises(openai.BadRequestError, match="upstream says 400"):
        await client(gateway, admin_key).chat.completions.create(model="resilient", messages=PING)
    assert (len(primary), len(backup)) == (1, 0)


async def test_when_everything_fails_the_error_is_clear(
    gateway: str, admin_key: str, upstream: FakeUpstream
) -> None:
    scripted(upstream, "/primary/v1/chat/completions", [500, 500])
    scripted(upstream, "/backup/v1/chat/completions", [502])
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{gateway}/llm/v1/chat/completions",
            headers={"Authorization": f"Bearer {admin_key}"},
            json={"model": "resilient", "messages": PING},
        )
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["type"] == "upstream_error"
    assert "Traceback" not in response.text


async def test_a_hanging_upstream_times_out(
    gateway: str, admin_key: str, upstream: FakeUpstream
) -> None:
    upstream.hang("/primary/v1/chat/completions")
    upstream.hang("/backup/v1/chat/completions")
    with pytest.raises(openai.APIStatusError) as caught:
        await client(gateway, admin_key).chat.completions.create(model="resilient", messages=PING)
    assert caught.value.status_code == 504


async def test_a_client_that_leaves_cancels_the_upstream_call(
    gateway: str, admin_key: str, upstream: FakeUpstream
) -> None:
    upstream.hang("/primary/v1/chat/completions")
    impatient = openai.AsyncOpenAI(
        base_url=f"{gateway}/llm/v1", api_key=admin_key, max_retries=0, timeout=0.3
    )
    with pytest.raises(openai.APITimeoutError):
        await impatient.chat.completions.create(model="resilient", messages=PING)
    await asyncio.wait_for(upstream.disconnected.wait(), 0.9)


def content_chunk(text: str) -> dict[str, object]:
    """A stream chunk carrying ``text``, as an OpenAI upstream sends it."""
    return {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": text}}],
    }


async def test_a_stream_that_fails_midway_ends_with_an_error_event(
    gateway: str, admin_key: str, upstream: FakeUpstream
) -> None:
    chunk = content_chunk("par")
    upstream.reply_sse(
        "/primary/v1/chat/completions",
        [FakeUpstream.sse(chunk), FakeUpstream.sse({"error": {"message": "model crashed"}})],
    )
    stream = await client(gateway, admin_key).chat.completions.create(
        model="resilient", messages=PING, stream=True
    )
    received: list[str | None] = []

    async def read_all() -> None:
        async for part in stream:
            received.append(part.choices[0].delta.content)

    with pytest.raises(openai.APIError, match="model crashed"):
        await read_all()
    assert received == ["par"]


async def test_a_client_that_leaves_a_stream_cancels_the_upstream(
    gateway: str, admin_key: str, upstream: FakeUpstream
) -> None:
    chunk = content_chunk("slow")
    upstream.reply_sse("/primary/v1/chat/completions", [FakeUpstream.sse(chunk)], hang=True)
    async with (
        httpx.AsyncClient() as http,
        http.stream(
            "POST",
            f"{gateway}/llm/v1/chat/completions",
            headers={"Authorization": f"Bearer {admin_key}"},
            json={"model": "resilient", "messages": PING, "stream": True},
        ) as response,
    ):
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                break  # got the first chunk; hang up
    await asyncio.wait_for(upstream.disconnected.wait(), 5)
