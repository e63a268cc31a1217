"""What the gateway does while Redis, its counter store, is down: the configured policy,
then back to shared limits when Redis returns."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from governance_harness import governed, running

from agentic_platform.settings import Settings
from agentic_platform.testing.redis_server import RedisServer


@pytest.mark.parametrize(
    ("policy", "status_during_outage"),
    [("fail_closed", 503), ("fail_open", 200), ("local", 200)],
)
async def test_redis_stopped_and_restarted_mid_test(
    settings: Settings, tmp_path: Path, policy: str, status_during_outage: int
) -> None:
    redis = RedisServer()
    redis.start()
    try:
        governed(settings, f"sqlite+aiosqlite:///{tmp_path / 'platform.db'}")
        settings.limits.url = redis.url
        settings.limits.on_backend_error = policy  # type: ignore[assignment]
        async with running(settings) as platform:
            plan = await platform.admin(
                "POST", "/plans", json={"name": "limited", "requests_per_minute": 1000}
            )
            _, _, secret = await platform.user_with_key("outage", plan_id=plan["id"])
            assert (await platform.chat(secret)).status_code == 200

            redis.stop()
            during = await platform.chat(secret)
            assert during.status_code == status_during_outage
            if during.status_code == 503:
                assert "limits" in during.json()["error"]["message"].lower()

            redis.start()  # same port, empty: counters start again
            await asyncio.sleep(1.2)  # the store probes Redis again after about a second
            assert (await platform.chat(secret)).status_code == 200
    finally:
        redis.stop()
