"""A deployment that keeps failing is cooled down, tried again once its cooldown is over,
and back in service after a success; the caller's own mistakes never cool it down. Time is
a fake clock the tests move; the deployments are real HTTP endpoints on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from routing_harness import Deployments, FakeClock, ask, gateway

from agentic_platform.errors import UpstreamError
from agentic_platform.llm_gateway.breaker import CooldownSettings
from agentic_platform.llm_gateway.catalog import ModelEntry
from agentic_platform.llm_gateway.service import LLMGateway
from agentic_platform.testing.upstream import FakeUpstream

COOLDOWN = CooldownSettings(consecutive_failures=3, cooldown_seconds=30)


@pytest.fixture
def pool(upstream: FakeUpstream) -> Deployments:
    return Deployments(upstream, "primary", "backup")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def served(pool: Deployments, clock: FakeClock) -> AsyncIterator[LLMGateway]:
    entry = ModelEntry(
        alias="guarded", deployments=[pool.deployment("primary"), pool.deployment("backup")]
    )
    made = gateway(entry, cooldown=COOLDOWN, clock=clock)
    yield made
    await made.aclose()


async def answered_by(served: LLMGateway) -> str | None:
    outcome = await served.complete(ask("guarded"))
    return outcome.completion.choices[0].message.content


async def test_opens_after_consecutive_failures_and_closes_after_a_trial(
    served: LLMGateway, pool: Deployments, clock: FakeClock
) -> None:
    pool.status["primary"] = 503
    for _ in range(3):
        assert await answered_by(served) == "backup"
    assert pool.calls["primary"] == 3
    # Open: the primary is skipped for the cooldown.
    clock.advance(29)
    for _ in range(5):
        assert await answered_by(served) == "backup"
    assert pool.calls["primary"] == 3
    # Half-open after the cooldown: one trial call; it succeeds, and the primary is back.
    pool.status["primary"] = 200
    clock.advance(2)
    assert await answered_by(served) == "primary"
    assert [await answered_by(served) for _ in range(3)] == ["primary"] * 3
    assert not served.breakers.is_open(("guarded", 0))


async def test_a_failed_trial_opens_it_for_another_cooldown(
    served: LLMGateway, pool: Deployments, clock: FakeClock
) -> None:
    pool.status["primary"] = 500
    for _ in range(3):
        await answered_by(served)
    clock.advance(31)
    assert await answered_by(served) == "backup"  # the trial failed
    assert pool.calls["primary"] == 4
    clock.advance(29)
    assert await answered_by(served) == "backup"
    assert pool.calls["primary"] == 4
    clock.advance(2)
    pool.status["primary"] = 200
    assert await answered_by(served) == "primary"


async def test_client_errors_do_not_cool_a_deployment_down(
    served: LLMGateway, pool: Deployments
) -> None:
    pool.status["primary"] = 400
    for _ in range(6):
        with pytest.raises(UpstreamError) as raised:
            await answered_by(served)
        assert raised.value.status_code == 400
    assert pool.calls["primary"] == 6 and pool.calls["backup"] == 0
    assert not served.breakers.is_open(("guarded", 0))


async def test_a_success_resets_the_streak(served: LLMGateway, pool: Deployments) -> None:
    for _ in range(4):
        pool.status["primary"] = 502
        await answered_by(served)
        await answered_by(served)
        pool.status["primary"] = 200
        assert await answered_by(served) == "primary"
    assert not served.breakers.is_open(("guarded", 0))


async def test_opens_on_the_failure_rate_in_the_window(pool: Deployments, clock: FakeClock) -> None:
    entry = ModelEntry(
        alias="guarded", deployments=[pool.deployment("primary"), pool.deployment("backup")]
    )
    rate = CooldownSettings(
        consecutive_failures=0, failure_rate=0.5, min_calls=10, window_seconds=60
    )
    served = gateway(entry, cooldown=rate, clock=clock)
    try:
        for round_ in range(6):  # alternating: never two failures in a row, half failed
            assert not served.breakers.is_open(("guarded", 0)), round_  # under min_calls
            pool.status["primary"] = 503
            await answered_by(served)
            pool.status["primary"] = 200
            await answered_by(served)
            clock.advance(1)
        # The sixth failure found 6 of 11 calls failed.
        assert served.breakers.is_open(("guarded", 0))
        assert await answered_by(served) == "backup"
    finally:
        await served.aclose()


async def test_an_alias_whose_deployments_all_cooled_down_still_answers(
    upstream: FakeUpstream, clock: FakeClock
) -> None:
    pool = Deployments(upstream, "only")
    entry = ModelEntry(alias="guarded", deployments=[pool.deployment("only")])
    served = gateway(entry, cooldown=COOLDOWN, clock=clock)
    try:
        pool.status["only"] = 503
        for _ in range(3):
            with pytest.raises(UpstreamError):
                await answered_by(served)
        assert served.breakers.is_open(("guarded", 0))
        pool.status["only"] = 200
        assert await answered_by(served) == "only"  # tried as a last resort, and closed
        assert not served.breakers.is_open(("guarded", 0))
    finally:
        await served.aclose()


async def test_a_failure_older_than_the_window_is_forgotten(
    served: LLMGateway, pool: Deployments, clock: FakeClock
) -> None:
    pool.status["primary"] = 503
    await answered_by(served)
    await answered_by(served)
    assert served.breakers.tracking
    pool.status["primary"] = 200
    await answered_by(served)
    assert served.breakers.tracking  # the failures are still in the window
    clock.advance(COOLDOWN.window_seconds + 1)
    await answered_by(served)
    assert not served.breakers.tracking
