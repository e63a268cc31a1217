"""A misbehaving model upstream, through the whole gateway, streamed and not: 500s, timeouts
(connect and read), malformed bodies, cut connections and slow answers. Each fault ends in a
retry, a fallback or a clear error in the OpenAI envelope, and in exactly one ledger row."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import openai
import orjson
import pytest
from aiohttp import web
from faults_harness import PING, Served, gather_all, ledger_rows, read_stream, serving
from pydantic import SecretStr

from agentic_platform.llm_gateway.catalog import Deployment, ModelEntry
from agentic_platform.settings import Settings
from agentic_platform.testing.upstream import FakeUpstream, send_events

SECRET = "sk-upstream-secret-0123456789"
TRACEBACK = 'Traceback (most recent call last):\n  File "/srv/app.py", line 1, in <module>'
PRIMARY = "/primary/v1/chat/completions"
BACKUP = "/backup/v1/chat/completions"
TIMEOUT = 0.4

pytestmark = pytest.mark.faults

Step = Callable[[web.Request], Awaitable[web.StreamResponse]]


def deployment(base: str, name: str, **fields: object) -> Deployment:
    return Deployment(
        provider="openai",
        model=f"{name}-model",
        api_base=f"{base}/{name}/v1",
        api_key=SecretStr(SECRET),
        **{"timeout_seconds": TIMEOUT, **fields},  # type: ignore[arg-type]
    )


def chunk(delta: dict[str, object], finish: str | None = None) -> bytes:
    return FakeUpstream.sse(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "upstream",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
    )


USAGE = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
OPENING = [chunk({"role": "assistant", "content": ""}), chunk({"content": "po"})]
ENDING = [
    chunk({"content": "ng"}),
    chunk({}, "stop"),
    FakeUpstream.sse(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "upstream",
            "choices": [],
            "usage": USAGE,
        }
    ),
    FakeUpstream.sse(b"[DONE]"),
]
COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "upstream",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "pong"}, "finish_reason": "stop"}
    ],
    "usage": USAGE,
}


async def wants_stream(request: web.Request) -> bool:
    return bool((await request.json()).get("stream"))


async def good(request: web.Request, pause: float = 0.0) -> web.StreamResponse:
    """A correct answer, "pong", in the shape asked for."""
    if await wants_stream(request):
        return await send_events(request, OPENING + ENDING, pause=pause)
    if pause:
        await asyncio.sleep(pause)
    return web.json_response(COMPLETION)


def failing(status: int) -> Step:
    """An error whose body quotes a traceback and the gateway's key, as broken servers do."""

    async def step(_request: web.Request) -> web.StreamResponse:
        said = f"upstream says {status} for key {SECRET}\n{TRACEBACK}"
        return web.json_response({"error": {"message": said}}, status=status)

    return step


def slow(upstream: FakeUpstream, seconds: float) -> Step:
    async def step(request: web.Request) -> web.StreamResponse:
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:  # the gateway hung up
            upstream.disconnected.set()
            raise
        return await good(request)

    return step


async def malformed(request: web.Request) -> web.StreamResponse:
    if await wants_stream(request):
        return await send_events(request, [b'data: {"id": "chatcmpl-1", "choices": [{"del\n\n'])
    return web.Response(
        body=b'{"id": "chatcmpl-1", "choices": [{"mess', content_type="application/json"
    )


async def cut(request: web.Request) -> web.StreamResponse:
    """Start a good answer, then drop the connection."""
    if await wants_stream(request):
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    else:
        body = orjson.dumps(COMPLETION)
        response = web.StreamResponse(
            headers={"Content-Type": "application/json", "Content-Length": str(len(body))}
        )
    await response.prepare(request)
    await response.write(b"".join(OPENING) if await wants_stream(request) else body[:20])
    await asyncio.sleep(0.05)
    assert request.transport is not None
    request.transport.abort()
    return response


def script(upstream: FakeUpstream, path: str, steps: list[Step] | Step) -> list[float]:
    """Answer with each step in turn, then correctly (or with ``steps`` every time if it is
    one step); returns the arrival times."""
    arrivals: list[float] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        arrivals.append(time.monotonic())
        if callable(steps):
            return await steps(request)
        return await (steps.pop(0) if steps else good)(request)

    upstream.on(path, handler)
    return arrivals


def flaky_alias(primary_base: str, upstream: FakeUpstream, *, primary_retries: int) -> ModelEntry:
    """The alias ``flaky``: a primary at ``primary_base``, then a backup on ``upstream``."""
    return ModelEntry(
        alias="flaky",
        deployments=[
            deployment(primary_base, "primary", max_retries=primary_retries),
            deployment(upstream.base_url, "backup", max_retries=0),
        ],
    )


@pytest.fixture
def flaky(settings: Settings, upstream: FakeUpstream) -> Settings:
    """The alias ``flaky``: a primary retried once, then a backup."""
    settings.models = [flaky_alias(upstream.base_url, upstream, primary_retries=1)]
    return settings


async def ask(served: Served, stream: bool) -> str:
    """The answer's text, streamed or not; raises what the SDK raises."""
    client = served.client()
    if stream:
        return await read_stream(
            await client.chat.completions.create(model="flaky", messages=PING, stream=True)
        )
    answer = await client.chat.completions.create(model="flaky", messages=PING)
    return answer.choices[0].message.content or ""


async def ask_raw(served: Served, stream: bool) -> httpx.Response:
    async with httpx.AsyncClient(timeout=20) as http:
        return await http.post(
            f"{served.url}/llm/v1/chat/completions",
            headers={"Authorization": f"Bearer {served.key}"},
            json={"model": "flaky", "messages": PING, "stream": stream},
        )


def assert_clean(response: httpx.Response) -> None:
    for leak in (SECRET, "Traceback", 'File "', "JSONDecodeError", "orjson"):
        assert leak not in response.text


def only_row(database: Path) -> dict[str, object]:
    rows = ledger_rows(database)
    assert len(rows) == 1, rows
    return rows[0]


STREAMED = pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])


@STREAMED
async def test_a_500_then_200_is_retried_and_recorded_once(
    flaky: Settings, admin_key: str, upstream: FakeUpstream, stream: bool
) -> None:
    primary = script(upstream, PRIMARY, [failing(500)])
    backup = script(upstream, BACKUP, [])
    with serving(flaky, admin_key) as platform:
        assert await ask(platform, stream) == "pong"
    assert (len(primary), len(backup)) == (2, 0)
    row = only_row(platform.database)
    assert (row["status"], row["deployment"], row["output_tokens"]) == (
        200,
        "openai:primary-model",
        2,
    )
    assert bool(row["streamed"]) is stream


@STREAMED
async def test_an_upstream_that_always_fails_falls_back(
    flaky: Settings, admin_key: str, upstream: FakeUpstream, stream: bool
) -> None:
    primary = script(upstream, PRIMARY, failing(500))
    backup = script(upstream, BACKUP, [])
    with serving(flaky, admin_key) as platform:
        assert await ask(platform, stream) == "pong"
    assert (len(primary), len(backup)) == (2, 1)
    row = only_row(platform.database)
    assert (row["status"], row["deployment"]) == (200, "openai:backup-model")


@STREAMED
async def test_when_every_deployment_fails_the_error_is_clean(
    flaky: Settings, admin_key: str, upstream: FakeUpstream, stream: bool
) -> None:
    script(upstream, PRIMARY, failing(500))
    script(upstream, BACKUP, failing(503))
    with serving(flaky, admin_key) as platform:
        response = await ask_raw(platform, stream)
    assert response.status_code == 502
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("upstream_error", "upstream_unavailable")
    assert "openai:backup-model: the upstream is unavailable (HTTP 503)" in error["message"]
    assert_clean(response)
    row = only_row(platform.database)
    assert (row["status"], row["error_type"]) == (502, "upstream_unavailable")


@STREAMED
async def test_a_slow_upstream_beyond_the_timeout_is_a_504_and_is_cancelled(
    flaky: Settings, admin_key: str, upstream: FakeUpstream, stream: bool
) -> None:
    primary = script(upstream, PRIMARY, slow(upstream, 10))
    backup = script(upstream, BACKUP, slow(upstream, 10))
    started = time.monotonic()
    with serving(flaky, admin_key) as platform:
        response = await ask_raw(platform, stream)
        await asyncio.wait_for(upstream.disconnected.wait(), 2)
    assert time.monotonic() - started < 2 + 3 * TIMEOUT
    assert (len(primary), len(backup)) == (2, 1)  # a timeout is retried, then falls back
    assert response.status_code == 504
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("upstream_error", "upstream_timeout")
    assert f"did not answer within {TIMEOUT:g}s" in error["message"]
    assert_clean(response)
    assert only_row(platform.database)["status"] == 504


@STREAMED
async def test_a_connect_timeout_falls_back_then_is_a_504(
    settings: Settings, upstream: FakeUpstream, admin_key: str, blackhole_url: str, stream: bool
) -> None:
    settings.models = [
        flaky_alias(blackhole_url, upstream, primary_retries=0),
        ModelEntry(
            alias="unreachable", deployments=[deployment(blackhole_url, "primary", max_retries=0)]
        ),
    ]
    script(upstream, BACKUP, [])
    with serving(settings, admin_key) as served:
        assert await ask(served, stream) == "pong"
        async with httpx.AsyncClient(timeout=20) as http:
            response = await http.post(
                f"{served.url}/llm/v1/chat/completions",
                headers={"Authorization": f"Bearer {served.key}"},
                json={"model": "unreachable", "messages": PING, "stream": stream},
            )
    assert response.status_code == 504
    error = response.json()["error"]
    assert error["code"] == "upstream_timeout"
    assert f"within {TIMEOUT:g}s" in error["message"]
    rows = ledger_rows(served.database)
    assert [(r["status"], r["deployment"]) for r in rows] == [
        (200, "openai:backup-model"),
        (504, None),
    ]


@STREAMED
async def test_a_refused_connection_falls_back(
    settings: Settings, upstream: FakeUpstream, admin_key: str, refused_url: str, stream: bool
) -> None:
    settings.models = [flaky_alias(refused_url, upstream, primary_retries=1)]
    script(upstream, BACKUP, [])
    with serving(settings, admin_key) as served:
        assert await ask(served, stream) == "pong"
    assert only_row(served.database)["deployment"] == "openai:backup-model"


@STREAMED
async def test_a_malformed_body_falls_back_and_is_otherwise_a_clean_502(
    flaky: Settings, admin_key: str, upstream: FakeUpstream, stream: bool
) -> None:
    primary = script(upstream, PRIMARY, malformed)
    backup = script(upstream, BACKUP, [good, malformed])
    with serving(flaky, admin_key) as platform:
        assert await ask(platform, stream) == "pong"  # the backup read fine: fallen back to
        assert (len(primary), len(backup)) == (1, 1)  # garbage is not asked for twice
        response = await ask_raw(platform, stream)
    assert response.status_code == 502
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("upstream_error", "upstream_bad_response")
    assert "returned a response the gateway could not read" in error["message"]
    assert_clean(response)
    rows = ledger_rows(platform.database)
    assert [(r["status"], r["error_type"]) for r in rows] == [
        (200, None),
        (502, "upstream_bad_response"),
    ]


async def test_a_plain_answer_cut_off_is_retried_then_falls_back(
    flaky: Settings, admin_key: str, upstream: FakeUpstream
) -> None:
    primary = script(upstream, PRIMARY, cut)
    backup = script(upstream, BACKUP, [])
    with serving(flaky, admin_key) as platform:
        assert await ask(platform, stream=False) == "pong"
    assert (len(primary), len(backup)) == (2, 1)
    assert only_row(platform.database)["deployment"] == "openai:backup-model"


async def test_a_stream_cut_midway_ends_with_an_error_event(
    flaky: Settings, admin_key: str, upstream: FakeUpstream
) -> None:
    script(upstream, PRIMARY, cut)
    received: list[str] = []
    with serving(flaky, admin_key) as platform:
        stream = await platform.client().chat.completions.create(
            model="flaky", messages=PING, stream=True
        )

        async def read() -> None:
            async for part in stream:
                received.append(part.choices[0].delta.content or "")

        with pytest.raises(openai.APIError) as caught:
            await read()
    assert "".join(received) == "po"  # what was delivered before the cut
    assert "openai:primary-model: could not reach the upstream" in caught.value.message
    row = only_row(platform.database)
    assert (row["status"], row["error_type"], bool(row["streamed"])) == (
        502,
        "upstream_unavailable",
        True,
    )


async def test_a_stream_cut_midway_records_what_was_delivered(
    flaky: Settings, admin_key: str, upstream: FakeUpstream
) -> None:
    script(upstream, PRIMARY, cut)
    with serving(flaky, admin_key) as platform:
        stream = await platform.client().chat.completions.create(
            model="flaky", messages=PING, stream=True
        )
        with pytest.raises(openai.APIError):
            await read_stream(stream)
    assert only_row(platform.database)["output_tokens"] >= 1


async def test_a_stream_that_stalls_midway_times_out_with_an_error_event(
    flaky: Settings, admin_key: str, upstream: FakeUpstream
) -> None:
    async def stall(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"".join(OPENING))
        await upstream.wait_for_disconnect()
        return response

    script(upstream, PRIMARY, stall)
    with serving(flaky, admin_key) as platform:
        stream = await platform.client().chat.completions.create(
            model="flaky", messages=PING, stream=True
        )
        with pytest.raises(openai.APIError, match=f"stopped sending for more than {TIMEOUT:g}s"):
            await read_stream(stream)
        await asyncio.wait_for(upstream.disconnected.wait(), 2)
    row = only_row(platform.database)
    assert (row["status"], row["error_type"]) == (504, "upstream_timeout")


@STREAMED
async def test_slow_answers_within_the_timeout_do_not_queue_behind_each_other(
    settings: Settings, upstream: FakeUpstream, admin_key: str, stream: bool
) -> None:
    settings.models = [
        ModelEntry(
            alias="flaky",
            deployments=[
                deployment(upstream.base_url, "primary", max_retries=0, timeout_seconds=5.0)
            ],
        ),
    ]
    pause = 0.3  # per answer, or between the chunks of a stream
    script(upstream, PRIMARY, lambda request: good(request, pause))
    requests = 40
    with serving(settings, admin_key) as served:
        started = time.monotonic()
        answers = await gather_all(*(ask(served, stream) for _ in range(requests)))
        elapsed = time.monotonic() - started
    assert answers == ["pong"] * requests
    one = pause * (len(OPENING + ENDING) if stream else 1)
    assert elapsed < one + 2.5, f"{requests} concurrent slow answers took {elapsed:.2f}s"
    assert len(ledger_rows(served.database)) == requests
