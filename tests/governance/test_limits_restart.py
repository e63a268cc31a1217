"""In-process counters survive a restart: they start from what the usage ledger holds for
the windows still open, so a stopped and restarted platform does not hand out a day's
budget, or a minute's requests, a second time."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from governance_harness import Platform, clear_of_minute_boundary, running

from agentic_platform.settings import Settings


async def _until_refused(platform: Platform, secret: str) -> list[int]:
    statuses: list[int] = []
    while not statuses or statuses[-1] == 200:
        assert len(statuses) < 20, statuses
        statuses.append((await platform.chat(secret, model="priced", max_tokens=2)).status_code)
    return statuses


async def _key_on_plan(platform: Platform, name: str, **plan: Any) -> str:
    made = await platform.admin("POST", "/plans", json={"name": name, **plan})
    return (await platform.user_with_key(name, plan_id=made["id"]))[2]


@pytest.mark.parametrize("budget", ["budget_usd_per_day", "budget_usd_per_month"])
async def test_a_spent_budget_stays_spent_across_a_restart(
    governed_settings: Settings, budget: str
) -> None:
    # $1 a token: a call costs $4 and reserves about $30, so a $50 budget admits a few.
    async with running(governed_settings) as platform:
        secret = await _key_on_plan(platform, "tight", **{budget: 50})
        statuses = await _until_refused(platform, secret)
        assert statuses.count(200) >= 2 and statuses[-1] == 429
    async with running(governed_settings) as restarted:
        refused = await restarted.chat(secret, model="priced", max_tokens=2)
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "budget_exceeded"


async def test_a_minutes_requests_stay_counted_across_a_restart(
    governed_settings: Settings,
) -> None:
    await clear_of_minute_boundary(margin=20)
    async with running(governed_settings) as platform:
        secret = await _key_on_plan(platform, "rpm", requests_per_minute=3)
        assert await _until_refused(platform, secret) == [200, 200, 200, 429]
    async with running(governed_settings) as restarted:
        assert (await restarted.chat(secret, model="priced", max_tokens=2)).status_code == 429


async def test_what_was_spent_before_a_restart_counts_exactly_once(
    governed_settings: Settings,
) -> None:
    async with running(governed_settings) as platform:
        plan = await platform.admin("POST", "/plans", json={"name": "p", "budget_usd_per_day": 50})
        _, _, spent = await platform.user_with_key("spent", plan_id=plan["id"])
        _, _, fresh = await platform.user_with_key("fresh", plan_id=plan["id"])
        assert (await platform.chat(spent, model="priced", max_tokens=2)).status_code == 200
    async with running(governed_settings) as restarted:
        after_one = (await _until_refused(restarted, spent)).count(200)
        whole = (await _until_refused(restarted, fresh)).count(200)
    assert after_one == whole - 1


async def test_a_teams_spent_budget_stays_spent_across_a_restart(
    governed_settings: Settings,
) -> None:
    async with running(governed_settings) as platform:
        plan = await platform.admin("POST", "/plans", json={"name": "t", "budget_usd_per_day": 50})
        team = await platform.admin("POST", "/teams", json={"name": "crew", "plan_id": plan["id"]})
        members = [
            await platform.admin("POST", "/principals", json={"name": n, "team_id": team["id"]})
            for n in ("first", "second")
        ]
        first, second = [
            (await platform.admin("POST", "/keys", json={"principal_id": m["id"]}))["secret"]
            for m in members
        ]
        await asyncio.sleep(0.6)  # the change feed brings the team's plan
        assert (await _until_refused(platform, first))[-1] == 429
    async with running(governed_settings) as restarted:
        refused = await restarted.chat(second, model="priced", max_tokens=2)  # the team's
    assert refused.status_code == 429
    assert "team's daily budget" in refused.json()["error"]["message"]
