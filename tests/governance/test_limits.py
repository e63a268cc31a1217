"""Plans enforced on the gateway: exact under concurrency, on both counter backends."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from governance_harness import Platform, clear_of_minute_boundary, governed, running

from agentic_platform.settings import Settings
from agentic_platform.testing.redis_server import RedisServer


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["memory", "redis"])
def limited_settings(
    request: pytest.FixtureRequest, settings: Settings, tmp_path: Path, redis_server: RedisServer
) -> Settings:
    governed(settings, f"sqlite+aiosqlite:///{tmp_path / 'platform.db'}")
    if request.param == "redis":
        settings.limits.url = redis_server.url
        settings.limits.socket_timeout_seconds = 5.0  # a loaded CI machine is slow to connect
    return settings


@pytest.fixture
async def limited(limited_settings: Settings) -> AsyncIterator[Platform]:
    async with running(limited_settings) as started:
        yield started


async def _plan(platform: Platform, **limits: object) -> str:
    await clear_of_minute_boundary()
    name = f"plan-{uuid.uuid4().hex[:12]}"
    plan = await platform.admin("POST", "/plans", json={"name": name, **limits})
    return str(plan["id"])


async def test_exactly_the_limit_is_admitted_under_concurrency(limited: Platform) -> None:
    plan_id = await _plan(limited, requests_per_minute=50)
    _, _, secret = await limited.user_with_key("burst", plan_id=plan_id)
    responses = await asyncio.gather(*(limited.chat(secret) for _ in range(200)))
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 50
    assert statuses.count(429) == 150
    refused = next(r for r in responses if r.status_code == 429)
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["x-ratelimit-limit-requests"] == "50"
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    assert "50 requests per minute" in refused.json()["error"]["message"]
    admitted = next(r for r in responses if r.status_code == 200)
    assert admitted.headers["x-ratelimit-limit-requests"] == "50"
    assert int(admitted.headers["x-ratelimit-remaining-requests"]) < 50


async def test_concurrent_request_cap(limited: Platform) -> None:
    plan_id = await _plan(limited, max_concurrent_requests=2)
    _, _, secret = await limited.user_with_key("parallel", plan_id=plan_id)
    first = await asyncio.gather(*(limited.chat(secret, model="slow") for _ in range(5)))
    assert sorted(r.status_code for r in first) == [200, 200, 429, 429, 429]
    assert (
        "2 concurrent requests"
        in next(r for r in first if r.status_code == 429).json()["error"]["message"]
    )
    # Slots are released when calls end.
    second = await asyncio.gather(*(limited.chat(secret, model="slow") for _ in range(2)))
    assert [r.status_code for r in second] == [200, 200]


async def test_output_tokens_are_reserved_then_settled(limited: Platform) -> None:
    plan_id = await _plan(limited, output_tokens_per_minute=30)
    _, _, secret = await limited.user_with_key("tokens", plan_id=plan_id)
    # Each call reserves its max_tokens (10) and settles to the real output (2 words):
    # without settling, the fourth call would not fit.
    for _ in range(11):
        assert (await limited.chat(secret, max_tokens=10)).status_code == 200
    assert (await limited.chat(secret, max_tokens=10)).status_code == 429  # 22 + 10 > 30
    too_big = await limited.chat(secret, max_tokens=40)
    assert too_big.status_code == 429
    assert too_big.json()["error"]["code"] == "request_too_large"


async def test_budget_is_never_exceeded_by_more_than_one_request(limited: Platform) -> None:
    # The priced model costs $1 per token; a call here costs $4 (2 in, 2 out).
    plan_id = await _plan(limited, budget_usd_per_day=30)
    user_id, _, secret = await limited.user_with_key("spender", plan_id=plan_id)
    statuses = [
        (await limited.chat(secret, model="priced", max_tokens=2)).status_code for _ in range(12)
    ]
    assert 200 in statuses
    assert statuses[-1] == 429
    refused = await limited.chat(secret, model="priced", max_tokens=2)
    error = refused.json()["error"]
    assert error["type"] == "insufficient_quota"
    assert error["code"] == "budget_exceeded"
    assert "daily budget of $30" in error["message"]
    assert "resets at" in error["message"]
    await asyncio.sleep(0.4)
    usage = await limited.admin(
        "GET", "/usage", params={"principal_id": user_id, "group_by": "principal"}
    )
    spent = usage["totals"][0]["cost_usd"]
    assert spent <= 30 + 4


async def test_models_outside_the_plan_are_refused(limited: Platform) -> None:
    plan_id = await _plan(limited, allowed_models=["echo", "text-*"])
    _, _, secret = await limited.user_with_key("picky", plan_id=plan_id)
    assert (await limited.chat(secret, model="text-only")).status_code == 200
    refused = await limited.chat(secret, model="weather-bot")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "model_not_allowed"
    assert "weather-bot" in refused.json()["error"]["message"]


async def test_most_specific_plan_wins_and_team_caps_apply_on_top(limited: Platform) -> None:
    generous = await _plan(limited, requests_per_minute=100)
    strict = await _plan(limited, requests_per_minute=3)
    team = await limited.admin("POST", "/teams", json={"name": "capped", "plan_id": strict})
    person = await limited.admin(
        "POST", "/principals", json={"name": "member", "team_id": team["id"], "plan_id": generous}
    )
    keys = [
        await limited.admin("POST", "/keys", json={"principal_id": person["id"]}) for _ in range(2)
    ]
    statuses = [
        (await limited.chat(keys[i % 2]["secret"])).status_code for i in range(5)
    ]  # the team's 3 per minute is shared by both keys
    assert statuses == [200, 200, 200, 429, 429]


async def test_per_model_override_has_its_own_counter(limited: Platform) -> None:
    plan_id = await _plan(
        limited,
        requests_per_minute=100,
        model_overrides={"weather-*": {"requests_per_minute": 1}},
    )
    _, _, secret = await limited.user_with_key("override", plan_id=plan_id)
    assert (await limited.chat(secret, model="weather-bot")).status_code == 200
    assert (await limited.chat(secret, model="weather-bot")).status_code == 429
    assert (await limited.chat(secret, model="echo")).status_code == 200


async def test_inactive_plan_refuses_with_a_clear_message(limited: Platform) -> None:
    plan_id = await _plan(limited, requests_per_minute=10)
    _, _, secret = await limited.user_with_key("paused", plan_id=plan_id)
    assert (await limited.chat(secret)).status_code == 200
    await limited.admin("PATCH", f"/plans/{plan_id}", json={"active": False})
    await asyncio.sleep(0.6)
    refused = await limited.chat(secret)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "plan_inactive"


async def test_default_plan_applies_to_principals_without_one(limited_settings: Settings) -> None:
    limited_settings.governance.default_plan = "starter"
    async with running(limited_settings) as platform:
        await clear_of_minute_boundary()
        await platform.admin("POST", "/plans", json={"name": "starter", "requests_per_minute": 2})
        await asyncio.sleep(0.6)
        _, _, secret = await platform.user_with_key("newcomer")
        statuses = [(await platform.chat(secret)).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
