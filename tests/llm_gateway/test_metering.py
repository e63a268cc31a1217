"""A call that does not end normally still pays for what it used: a stream the client hangs
up on, a non-streamed call the client leaves, a stream the upstream breaks off. The
platform runs on a real loopback port, so the hang-ups are real closed connections."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from agentic_platform.app import create_app
from agentic_platform.llm_gateway.catalog import Deployment, ModelEntry
from agentic_platform.settings import Settings
from agentic_platform.testing.server import serve_in_thread
from agentic_platform.testing.upstream import FakeUpstream

CHAT = "/llm/v1/chat/completions"
WORDS = "hi there"
DOLLAR_A_TOKEN = 1_000_000.0  # per million tokens: $1 a token, easy sums


def _priced(alias: str, deployment: Deployment) -> ModelEntry:
    return ModelEntry(alias=alias, capabilities={"chat", "streaming"}, deployments=[deployment])


def _scripted(delay: float) -> Deployment:
    return Deployment(
        provider="test",
        model="priced",
        input_price_per_mtok=DOLLAR_A_TOKEN,
        output_price_per_mtok=DOLLAR_A_TOKEN,
        options={"delay_seconds": delay},
    )


class Served:
    """The platform on a loopback port, driven over HTTP like any client would."""

    def __init__(self, url: str, admin_key: str) -> None:
        self.url = url
        self.admin_key = admin_key

    def client(self, key: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )

    async def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        async with self.client(self.admin_key) as http:
            response = await http.request(method, f"/admin/v1{path}", **kwargs)
        assert response.status_code < 300, response.text
        return response.json()

    async def user(self, **plan: Any) -> tuple[str, str]:
        """A principal on a fresh plan and a key of theirs: (principal id, secret)."""
        principal = await self.admin("POST", "/principals", json={"name": "caller"})
        key: dict[str, Any] = {"principal_id": principal["id"]}
        if plan:
            made = await self.admin("POST", "/plans", json={"name": f"p{time.time_ns()}", **plan})
            key["plan_id"] = made["id"]
        issued = await self.admin("POST", "/keys", json=key)
        return principal["id"], issued["secret"]

    async def rows(self, principal_id: str, count: int) -> list[dict[str, Any]]:
        """The principal's ledger rows, once ``count`` of them have been written."""
        deadline = time.monotonic() + 10
        while True:
            found = await self.admin("GET", "/usage/records", params={"principal_id": principal_id})
            rows: list[dict[str, Any]] = found["records"]
            if len(rows) >= count or time.monotonic() > deadline:
                return rows
            await asyncio.sleep(0.1)


def serve(settings: Settings, database_url: str, *models: ModelEntry) -> Iterator[Served]:
    settings.database_url = database_url
    settings.models = [*settings.models, *models]
    settings.governance.ledger_flush_seconds = 0.05
    settings.governance.change_poll_seconds = 0.2
    assert settings.auth.bootstrap_admin_key is not None
    with serve_in_thread(create_app(settings)) as url:
        yield Served(url, settings.auth.bootstrap_admin_key.get_secret_value())


@pytest.fixture
def served(settings: Settings, database_url: str) -> Iterator[Served]:
    # The pause before the finish chunk leaves time to hang up after the last word.
    yield from serve(
        settings,
        database_url,
        _priced("priced-stream", _scripted(0.3)),
        _priced("priced-slow", _scripted(2.0)),
    )


async def hang_up_after_the_words(http: httpx.AsyncClient, model: str, **extra: Any) -> int:
    """Stream an answer, read it up to its last word, and close the connection before the
    finish and usage chunks; returns the status."""
    body = {
        "model": model,
        "messages": [{"role": "user", "content": WORDS}],
        "stream": True,
        "stream_options": {"include_usage": True},
        **extra,
    }
    async with http.stream("POST", CHAT, json=body) as response:
        if response.status_code != 200:
            await response.aread()
            return response.status_code
        text = ""
        async for line in response.aiter_lines():
            if line.startswith("data: {"):
                chunk = json.loads(line.removeprefix("data: "))
                assert chunk.get("usage") is None
                text += "".join(c["delta"].get("content") or "" for c in chunk["choices"])
            if text == WORDS:
                break  # leaving the block closes the connection mid-stream
    return 200


async def test_a_stream_hung_up_on_before_its_usage_chunk_is_paid_for(served: Served) -> None:
    principal_id, secret = await served.user()
    async with served.client(secret) as http:
        assert await hang_up_after_the_words(http, "priced-stream") == 200
    (row,) = await served.rows(principal_id, 1)
    assert row["status"] == 499 and row["error_type"] == "client_disconnected"
    assert row["streamed"] is True and row["deployment"] == "test:priced"
    # Counted here: "hi there" is 3 tokens at three characters a token, plus 4 for the
    # message; the output, 8 characters in 2 chunks, is 3.
    assert (row["input_tokens"], row["output_tokens"]) == (7, 3)
    assert row["cost_usd"] == pytest.approx(10.0)


async def test_repeated_hang_ups_spend_the_budget_and_are_then_refused(served: Served) -> None:
    # Each call reserves about $55 (its body and max_tokens) and settles about $10.
    principal_id, secret = await served.user(budget_usd_per_day=100)
    statuses = []
    async with served.client(secret) as http:
        for _ in range(15):
            statuses.append(await hang_up_after_the_words(http, "priced-stream", max_tokens=2))
            if statuses[-1] == 429:
                break
            await served.rows(principal_id, len(statuses))  # settled before the next one
        refused = await http.post(
            CHAT, json={"model": "priced-stream", "messages": [{"role": "user", "content": "x"}]}
        )
    assert statuses[-1] == 429, statuses
    assert 2 <= statuses.count(200) <= 8
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "budget_exceeded"
    spent = sum(row["cost_usd"] for row in await served.rows(principal_id, len(statuses)))
    assert 10 * statuses.count(200) <= spent <= 100


async def test_a_non_streamed_call_left_while_generating_pays_for_its_prompt(
    served: Served,
) -> None:
    principal_id, secret = await served.user()
    async with served.client(secret) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.post(
                CHAT,
                json={"model": "priced-slow", "messages": [{"role": "user", "content": WORDS}]},
                timeout=0.5,
            )
    (row,) = await served.rows(principal_id, 1)
    assert row["status"] == 499 and row["streamed"] is False
    assert (row["input_tokens"], row["output_tokens"]) == (7, 0)
    assert row["cost_usd"] == pytest.approx(7.0)


@pytest.fixture
async def upstream_served(
    settings: Settings, upstream: FakeUpstream
) -> AsyncIterator[tuple[Served, FakeUpstream]]:
    deployment = Deployment(
        provider="openai",
        model="gpt-test",
        api_base=upstream.base_url,
        api_key="sk-test",
        input_price_per_mtok=DOLLAR_A_TOKEN,
        output_price_per_mtok=DOLLAR_A_TOKEN,
        max_retries=0,
    )
    hanging = deployment.model_copy(update={"timeout_seconds": 0.3})
    database = f"sqlite+aiosqlite:///{settings.data_dir.parent / 'upstream.db'}"
    served = serve(
        settings, database, _priced("upstream", deployment), _priced("upstream-slow", hanging)
    )
    # Started in a thread: the fake upstream keeps running on this test's loop meanwhile.
    platform = await asyncio.to_thread(next, served)
    yield platform, upstream
    await asyncio.to_thread(next, served, None)


def _chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    body = {"id": "c1", "object": "chat.completion.chunk", "model": "gpt-test"}
    return FakeUpstream.sse({**body, "choices": [choice]})


async def test_an_upstream_that_breaks_off_mid_stream_is_paid_for(
    upstream_served: tuple[Served, FakeUpstream],
) -> None:
    served, upstream = upstream_served
    words = [_chunk({"content": word}) for word in ("The answer", " is", " forty-two")]
    upstream.reply_sse("/chat/completions", [_chunk({"role": "assistant"}), *words], pause=0.01)
    principal_id, secret = await served.user()
    async with served.client(secret) as http:
        body = {"model": "upstream", "messages": [{"role": "user", "content": WORDS}]}
        response = await http.post(CHAT, json={**body, "stream": True})
    assert response.status_code == 200
    assert "forty-two" in response.text and '"error"' in response.text
    (row,) = await served.rows(principal_id, 1)
    assert row["status"] >= 500 and row["deployment"] == "openai:gpt-test"
    # 23 characters of output in 3 chunks: 8 tokens.
    assert (row["input_tokens"], row["output_tokens"]) == (7, 8)
    assert row["cost_usd"] == pytest.approx(15.0)


async def test_an_upstream_usage_chunk_is_what_a_finished_stream_pays(
    upstream_served: tuple[Served, FakeUpstream],
) -> None:
    served, upstream = upstream_served
    usage = {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16}
    last = {"id": "c1", "object": "chat.completion.chunk", "model": "gpt-test", "choices": []}
    upstream.reply_sse(
        "/chat/completions",
        [
            _chunk({"role": "assistant", "content": "ok"}),
            _chunk({}, "stop"),
            FakeUpstream.sse({**last, "usage": usage}),
            b"data: [DONE]\n\n",
        ],
    )
    principal_id, secret = await served.user()
    async with served.client(secret) as http:
        body = {"model": "upstream", "messages": [{"role": "user", "content": WORDS}]}
        assert (await http.post(CHAT, json={**body, "stream": True})).status_code == 200
    (row,) = await served.rows(principal_id, 1)
    assert row["status"] == 200
    assert (row["input_tokens"], row["output_tokens"], row["cost_usd"]) == (11, 5, 16.0)


async def test_an_upstream_that_times_out_pays_for_its_prompt(
    upstream_served: tuple[Served, FakeUpstream],
) -> None:
    served, upstream = upstream_served
    upstream.hang("/chat/completions")  # it goes on generating, and bills for it
    principal_id, secret = await served.user()
    async with served.client(secret) as http:
        body = {"model": "upstream-slow", "messages": [{"role": "user", "content": WORDS}]}
        response = await http.post(CHAT, json=body)
    assert response.status_code == 504
    (row,) = await served.rows(principal_id, 1)
    assert row["status"] == 504 and row["error_type"] == "upstream_timeout"
    assert (row["input_tokens"], row["output_tokens"], row["cost_usd"]) == (7, 0, 7.0)
