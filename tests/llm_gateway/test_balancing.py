"""Several deployments of one alias: calls spread by weight or to the least busy, and the
ordered fallback still behind them. The deployments are real HTTP endpoints on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from routing_harness import Deployments, ask, gateway

from agentic_platform.llm_gateway.catalog import ModelEntry
from agentic_platform.llm_gateway.service import LLMGateway
from agentic_platform.testing.upstream import FakeUpstream


@pytest.fixture
def pool(upstream: FakeUpstream) -> Deployments:
    return Deployments(upstream, "a", "b")


@pytest.fixture
async def closing() -> AsyncIterator[list[LLMGateway]]:
    gateways: list[LLMGateway] = []
    yield gateways
    for made in gateways:
        await made.aclose()


async def test_weighted_calls_follow_the_weights(
    pool: Deployments, closing: list[LLMGateway]
) -> None:
    entry = ModelEntry(
        alias="spread",
        strategy="weighted",
        deployments=[pool.deployment("a", weight=3), pool.deployment("b", weight=1)],
    )
    closing.append(served := gateway(entry))
    calls = 400
    for _ in range(calls):
        answer = await served.complete(ask("spread"))
        assert answer.completion.model == "spread"
    # Binomial(400, 0.75): mean 300, standard deviation 8.7; 45 is over five of them, so
    # a correct draw fails this about once in ten million runs, an even split always.
    assert pool.calls["a"] + pool.calls["b"] == calls
    assert abs(pool.calls["a"] - 300) <= 45


async def test_a_weighted_alias_still_falls_back(
    pool: Deployments, closing: list[LLMGateway]
) -> None:
    entry = ModelEntry(
        alias="spread",
        strategy="weighted",
        deployments=[pool.deployment("a", weight=1), pool.deployment("b", weight=1)],
    )
    closing.append(served := gateway(entry))
    pool.status["b"] = 503
    answers = [await served.complete(ask("spread")) for _ in range(40)]
    assert {a.completion.choices[0].message.content for a in answers} == {"a"}
    assert pool.calls["a"] == 40 and 5 <= pool.calls["b"] <= 35  # drawn first, then fell back


async def test_least_busy_sends_concurrent_calls_to_the_idle_deployment(
    pool: Deployments, closing: list[LLMGateway]
) -> None:
    entry = ModelEntry(
        alias="busy",
        strategy="least-busy",
        deployments=[pool.deployment("a"), pool.deployment("b")],
    )
    closing.append(served := gateway(entry))
    pool.delay.update(a=0.3, b=0.3)
    await asyncio.gather(*(served.complete(ask("busy")) for _ in range(6)))
    assert pool.calls == {"a": 3, "b": 3}
    # An ordered alias would have sent all six to "a"; and nothing is left in flight.
    assert served.balancer.in_flight(("busy", 0)) == served.balancer.in_flight(("busy", 1)) == 0


async def test_least_busy_avoids_a_deployment_holding_slow_calls(
    pool: Deployments, closing: list[LLMGateway]
) -> None:
    entry = ModelEntry(
        alias="busy",
        strategy="least-busy",
        deployments=[pool.deployment("a"), pool.deployment("b")],
    )
    closing.append(served := gateway(entry))
    pool.delay["a"] = 1.0
    slow = asyncio.ensure_future(served.complete(ask("busy")))
    while served.balancer.in_flight(("busy", 0)) == 0:
        await asyncio.sleep(0.01)
    fast = [await served.complete(ask("busy")) for _ in range(5)]
    assert {f.completion.choices[0].message.content for f in fast} == {"b"}
    assert (await slow).completion.choices[0].message.content == "a"


async def test_a_stream_is_in_flight_until_it_ends(
    upstream: FakeUpstream, closing: list[LLMGateway]
) -> None:
    pool = Deployments(upstream, "a")
    chunk = {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}],
    }
    done = {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    upstream.reply_sse(
        "/a/v1/chat/completions",
        [FakeUpstream.sse(chunk), FakeUpstream.sse(done), b"data: [DONE]\n\n"],
    )
    entry = ModelEntry(
        alias="streamed", strategy="least-busy", deployments=[pool.deployment("a")] * 2
    )
    closing.append(served := gateway(entry))
    request = ask("streamed").model_copy(update={"stream": True})
    chunks, _deployment = await served.stream(request)
    assert served.balancer.in_flight(("streamed", 0)) == 1
    texts = [c.choices[0].delta.content async for c in chunks if c.choices]
    assert texts[0] == "hi"
    assert served.balancer.in_flight(("streamed", 0)) == 0


async def test_a_deployment_of_weight_zero_is_only_a_fallback(
    upstream: FakeUpstream, closing: list[LLMGateway]
) -> None:
    pool = Deployments(upstream, "a", "b", "spare")
    entry = ModelEntry(
        alias="spread",
        strategy="weighted",
        deployments=[
            pool.deployment("a", weight=1),
            pool.deployment("b", weight=1),
            pool.deployment("spare", weight=0),
        ],
    )
    closing.append(served := gateway(entry))
    for _ in range(40):
        await served.complete(ask("spread"))
    assert pool.calls["spare"] == 0 and pool.calls["a"] > 0 and pool.calls["b"] > 0
    pool.status.update(a=503, b=503)
    answer = await served.complete(ask("spread"))
    assert answer.completion.choices[0].message.content == "spare"
