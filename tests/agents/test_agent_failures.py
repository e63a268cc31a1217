"""Runs that fail: a model that errors, a budget that runs out, a model missing from the
catalog. Each answers with the error in the envelope and is recorded failed with why; the
cost a run reports is what the gateway metered."""

from __future__ import annotations

import uuid

import pytest
from agents_harness import Platform, User

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def _last_run(user: object) -> dict[str, object]:
    runs = (await user.call("GET", "/runs")).json()["data"]  # type: ignore[attr-defined]
    return dict(runs[0])


async def test_a_model_error_fails_the_run_with_the_gateways_status(platform: Platform) -> None:
    alice = await platform.user("alice")
    with platform.agent_model("diy-agent", "broken-bot"):
        response = await alice.invoke(message="hello")
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "upstream_unavailable"
    run = await _last_run(alice)
    assert run["status"] == "failed" and run["error_code"] == "upstream_unavailable"
    with platform.agent_model("diy-agent", "broken-bot"):
        events = await alice.stream(message="hello")
    assert [e["type"] for e in events] == ["run_started", "error"]
    assert events[-1]["status"] == 502 and events[-1]["code"] == "upstream_unavailable"


async def test_a_spent_budget_fails_the_run_with_a_429(platform: Platform) -> None:
    plan = await platform.admin_call(
        "POST",
        "/admin/v1/plans",
        json={"name": f"tiny-{uuid.uuid4().hex[:8]}", "budget_usd_per_day": 0.01},
    )
    alice = await platform.user("alice", plan_id=plan["id"])
    with platform.agent_model("diy-agent", "priced-calc-bot"):
        response = await alice.invoke(message="1 + 1")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "budget_exceeded"
    assert response.json()["error"]["type"] == "insufficient_quota"
    run = await _last_run(alice)
    assert run["status"] == "failed" and run["error_code"] == "budget_exceeded"


async def test_the_run_cost_is_what_the_gateway_metered(platform: Platform) -> None:
    alice = await platform.user("alice")
    with platform.agent_model("diy-agent", "priced-calc-bot"):
        answer = await alice.ok(message="10 / 4")
    assert answer["output"] == "The answer is 2.5."
    await platform.state.metering.ledger.flush()
    page = await platform.admin_call(
        "GET", "/admin/v1/usage/records", params={"principal_id": alice.id}
    )
    rows = [row for row in page["records"] if row["model"] == "priced-calc-bot"]
    assert len(rows) == 2
    assert answer["cost_usd"] == pytest.approx(sum(row["cost_usd"] for row in rows))
    assert answer["usage"]["prompt_tokens"] == sum(row["input_tokens"] for row in rows)
    assert answer["cost_usd"] > 0


async def test_a_model_missing_from_the_catalog_is_a_503_naming_the_setting(
    platform: Platform,
) -> None:
    alice = await platform.user("alice")
    with platform.agent_model("diy-agent", "no-such-model"):
        response = await alice.invoke(message="hi")
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "agent_model_unavailable"
    assert "agents.default_model" in error["message"]


async def test_a_keys_model_allowlist_holds_inside_agent_runs(platform: Platform) -> None:
    alice = await platform.user("alice")
    key = await platform.admin_call(
        "POST",
        "/admin/v1/keys",
        json={"principal_id": alice.id, "name": "echo-only", "allowed_models": ["echo"]},
    )
    limited = User(platform, alice.id, key["secret"])
    refused = await limited.invoke(message="1 + 1")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "model_not_allowed"
    assert "calc-bot" in refused.json()["error"]["message"]
    async with limited.client() as http:
        as_model = await http.post(
            "/llm/v1/chat/completions",
            json={"model": "agent:diy-agent", "messages": [{"role": "user", "content": "1"}]},
        )
    assert as_model.status_code == 403
    wider = await platform.admin_call(
        "POST",
        "/admin/v1/keys",
        json={"principal_id": alice.id, "name": "calc", "allowed_models": ["calc-*"]},
    )
    assert (await User(platform, alice.id, wider["secret"]).ok(message="1 + 1"))["output"]


async def test_a_keys_plan_and_usage_follow_its_agent_runs(platform: Platform) -> None:
    """The run's model calls go to the gateway as the caller's key: the key's plan limits
    them and the usage ledger puts them on the key."""
    alice = await platform.user("alice")
    plan = await platform.admin_call(
        "POST", "/admin/v1/plans", json={"name": "one-run", "requests_per_minute": 2}
    )
    key = await platform.admin_call(
        "POST",
        "/admin/v1/keys",
        json={"principal_id": alice.id, "name": "tight", "plan_id": plan["id"]},
    )
    limited = User(platform, alice.id, key["secret"])
    assert len((await limited.ok(message="hello"))["steps"]) == 3  # two model calls
    refused = await limited.invoke(message="hello again")
    assert refused.status_code == 429, refused.text
    assert (await alice.ok(message="her other key is not limited"))["output"]
    await platform.state.metering.ledger.flush()
    page = await platform.admin_call(
        "GET", "/admin/v1/usage/records", params={"principal_id": alice.id}
    )
    on_key = [row["status"] for row in page["records"] if row["key_id"] == key["id"]]
    assert sorted(on_key) == [200, 200, 429]
