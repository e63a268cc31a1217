"""Wildcard aliases (``openai/*``) through the whole platform: the rest of the name goes
upstream, key and plan allowlists govern each model, and every answer says what it cost,
the same figure as its ledger row. The platform and the upstream are real loopback servers,
the client the official OpenAI SDK."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from aiohttp import web
from pydantic import ValidationError

from agentic_platform.app import create_app
from agentic_platform.llm_gateway.catalog import Deployment, ModelEntry, ModelPrice
from agentic_platform.settings import Settings
from agentic_platform.testing.server import serve_in_thread
from agentic_platform.testing.upstream import FakeUpstream

PING = [{"role": "user", "content": "ping"}]
USAGE = {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
GPT4O = (2.5, 10.0)  # its own price, per million tokens
DEFAULT = (10.0, 20.0)  # the wildcard deployment's price for models it does not list


def _cost(price: tuple[float, float]) -> float:
    return (3 * price[0] + 1 * price[1]) / 1_000_000


def answer_as_openai(upstream: FakeUpstream) -> list[str]:
    """The upstream answers chat calls, streamed or not; returns the models it was sent."""
    models: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        models.append(body["model"])
        base = {"id": "c1", "created": 1, "model": body["model"]}
        if not body.get("stream"):
            message = {"role": "assistant", "content": "pong"}
            return web.json_response(
                {
                    **base,
                    "object": "chat.completion",
                    "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                    "usage": USAGE,
                }
            )
        chunk = {**base, "object": "chat.completion.chunk"}
        events = [
            {**chunk, "choices": [{"index": 0, "delta": {"content": "pong"}}]},
            {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
            {**chunk, "choices": [], "usage": USAGE},
        ]
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for event in events:
            await response.write(FakeUpstream.sse(event))
        await response.write(b"data: [DONE]\n\n")
        return response

    upstream.on("/v1/chat/completions", handler)
    return models


class Platform:
    def __init__(self, url: str, admin_key: str) -> None:
        self.url = url
        self.admin_key = admin_key

    async def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.admin_key}"}
        async with httpx.AsyncClient(base_url=self.url, headers=headers, timeout=30) as http:
            response = await http.request(method, f"/admin/v1{path}", **kwargs)
        assert response.status_code < 300, response.text
        return response.json()

    async def key(self, **fields: Any) -> tuple[str, str]:
        """A new principal and a key of theirs with ``fields``: (principal id, secret)."""
        principal = await self.admin("POST", "/principals", json={"name": "caller"})
        issued = await self.admin("POST", "/keys", json={"principal_id": principal["id"], **fields})
        return principal["id"], issued["secret"]

    async def rows(self, principal_id: str, count: int) -> list[dict[str, Any]]:
        deadline = time.monotonic() + 10
        while True:
            found = await self.admin("GET", "/usage/records", params={"principal_id": principal_id})
            rows: list[dict[str, Any]] = found["records"]
            if len(rows) >= count or time.monotonic() > deadline:
                return rows
            await asyncio.sleep(0.05)

    def client(self, key: str) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=f"{self.url}/llm/v1", api_key=key, max_retries=0)


@pytest.fixture
def platform(settings: Settings, upstream: FakeUpstream) -> Iterator[Platform]:
    settings.models = [
        *settings.models,
        ModelEntry(
            alias="openai/*",
            capabilities={"chat", "streaming"},
            deployments=[
                Deployment(
                    provider="openai",
                    model="*",
                    api_base=f"{upstream.base_url}/v1",
                    input_price_per_mtok=DEFAULT[0],
                    output_price_per_mtok=DEFAULT[1],
                    prices={
                        "gpt-4o": ModelPrice(input_price_per_mtok=2.5, output_price_per_mtok=10)
                    },
                )
            ],
        ),
    ]
    settings.governance.ledger_flush_seconds = 0.05
    settings.governance.change_poll_seconds = 0.2
    assert settings.auth.bootstrap_admin_key is not None
    with serve_in_thread(create_app(settings)) as url:
        yield Platform(url, settings.auth.bootstrap_admin_key.get_secret_value())


async def test_the_rest_of_the_name_goes_upstream_and_the_cost_matches_the_ledger(
    platform: Platform, upstream: FakeUpstream
) -> None:
    sent = answer_as_openai(upstream)
    principal_id, secret = await platform.key()
    raw = await platform.client(secret).chat.completions.with_raw_response.create(
        model="openai/gpt-4o", messages=PING
    )
    answer = raw.parse()
    assert sent == ["gpt-4o"]
    assert answer.model == "openai/gpt-4o"
    header = float(raw.headers["x-agentic-cost-usd"])
    assert header == pytest.approx(_cost(GPT4O))
    assert answer.usage is not None and answer.usage.model_extra == {"cost": header}
    (row,) = await platform.rows(principal_id, 1)
    assert (row["model"], row["deployment"]) == ("openai/gpt-4o", "openai:gpt-4o")
    assert row["cost_usd"] == header


async def test_a_model_without_a_price_of_its_own_is_priced_at_the_default(
    platform: Platform, upstream: FakeUpstream
) -> None:
    sent = answer_as_openai(upstream)
    principal_id, secret = await platform.key()
    raw = await platform.client(secret).chat.completions.with_raw_response.create(
        model="openai/o3-mini", messages=PING
    )
    assert sent == ["o3-mini"]
    assert float(raw.headers["x-agentic-cost-usd"]) == pytest.approx(_cost(DEFAULT))
    (row,) = await platform.rows(principal_id, 1)
    assert row["cost_usd"] == float(raw.headers["x-agentic-cost-usd"])


async def test_a_stream_carries_its_cost_in_the_usage_chunk(
    platform: Platform, upstream: FakeUpstream
) -> None:
    answer_as_openai(upstream)
    principal_id, secret = await platform.key()
    stream = await platform.client(secret).chat.completions.create(
        model="openai/gpt-4o",
        messages=PING,
        stream=True,
        stream_options={"include_usage": True},
    )
    usages = [chunk.usage async for chunk in stream if chunk.usage is not None]
    assert len(usages) == 1 and usages[0].model_extra is not None
    cost = usages[0].model_extra["cost"]
    assert cost == pytest.approx(_cost(GPT4O))
    (row,) = await platform.rows(principal_id, 1)
    assert row["streamed"] is True and row["cost_usd"] == cost


async def test_a_key_allowlist_names_the_exact_model_or_the_wildcard(
    platform: Platform, upstream: FakeUpstream
) -> None:
    sent = answer_as_openai(upstream)
    _, exact = await platform.key(allowed_models=["openai/gpt-4o"])
    await platform.client(exact).chat.completions.create(model="openai/gpt-4o", messages=PING)
    with pytest.raises(openai.PermissionDeniedError) as refused:
        await platform.client(exact).chat.completions.create(model="openai/o3", messages=PING)
    assert refused.value.code == "model_not_allowed"
    assert "openai/o3" in refused.value.message
    _, pattern = await platform.key(allowed_models=["openai/*"])
    await platform.client(pattern).chat.completions.create(model="openai/o3", messages=PING)
    with pytest.raises(openai.PermissionDeniedError):
        await platform.client(pattern).chat.completions.create(model="echo", messages=PING)
    assert sent == ["gpt-4o", "o3"]


async def test_a_plan_allowlist_governs_models_under_a_wildcard(
    platform: Platform, upstream: FakeUpstream
) -> None:
    sent = answer_as_openai(upstream)
    plan = await platform.admin(
        "POST", "/plans", json={"name": "gpt4o-only", "allowed_models": ["openai/gpt-4o*"]}
    )
    _, secret = await platform.key(plan_id=plan["id"])
    await platform.client(secret).chat.completions.create(model="openai/gpt-4o-mini", messages=PING)
    with pytest.raises(openai.PermissionDeniedError) as refused:
        await platform.client(secret).chat.completions.create(model="openai/o3", messages=PING)
    assert "gpt4o-only" in refused.value.message
    assert sent == ["gpt-4o-mini"]


@pytest.mark.parametrize("model", ["openai/", "anthropic/claude", "openai/*"])
async def test_a_name_no_wildcard_serves_is_not_found(platform: Platform, model: str) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        await platform.client(platform.admin_key).chat.completions.create(
            model=model, messages=PING
        )
    assert missing.value.code == "model_not_found"


def test_a_wildcard_alias_needs_a_wildcard_model() -> None:
    with pytest.raises(ValidationError, match="needs a '\\*' in each deployment's model"):
        ModelEntry(alias="openai/*", deployments=[Deployment(provider="openai", model="gpt-4o")])
    with pytest.raises(ValidationError, match="only a wildcard alias"):
        ModelEntry(alias="gpt", deployments=[Deployment(provider="openai", model="gpt-*")])
    with pytest.raises(ValidationError, match="at its end"):
        ModelEntry(alias="open*/x", deployments=[Deployment(provider="openai", model="*")])
