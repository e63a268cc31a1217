"""Usage reports: totals by day, model and principal, record listings and CSV export;
members see only their own."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from governance_harness import Platform


async def _traffic(platform: Platform) -> tuple[str, str, str, str]:
    alice_id, _, alice = await platform.user_with_key("usage-alice")
    bob_id, _, bob = await platform.user_with_key("usage-bob")
    for _ in range(3):
        await platform.chat(alice)
    await platform.chat(alice, model="priced", max_tokens=5)
    await platform.chat(bob)
    await platform.state.metering.ledger.flush()
    return alice_id, alice, bob_id, bob


async def test_totals_by_model_principal_and_day(platform: Platform) -> None:
    alice_id, _, bob_id, _ = await _traffic(platform)
    by_model = await platform.admin("GET", "/usage", params={"group_by": "model"})
    models = {t["group"]: t for t in by_model["totals"]}
    assert models["echo"]["requests"] == 4
    assert models["priced"]["requests"] == 1
    assert models["priced"]["cost_usd"] == 4.0  # 2 in + 2 out at $1 per token
    by_principal = await platform.admin("GET", "/usage", params={"group_by": "principal"})
    people = {t["group"]: t["requests"] for t in by_principal["totals"]}
    assert people[alice_id] == 4
    assert people[bob_id] == 1
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    by_day = await platform.admin("GET", "/usage", params={"group_by": "day"})
    assert [t["group"] for t in by_day["totals"]] == [today]
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    later = await platform.admin("GET", "/usage", params={"start": tomorrow})
    assert later["totals"] == []
    only_priced = await platform.admin(
        "GET", "/usage/records", params={"model": "priced", "principal_id": alice_id}
    )
    assert len(only_priced["records"]) == 1


async def test_csv_export(platform: Platform) -> None:
    await _traffic(platform)
    async with platform.client(platform.admin_key) as http:
        response = await http.get("/admin/v1/usage/records", params={"format": "csv"})
        totals = await http.get("/admin/v1/usage", params={"format": "csv", "group_by": "model"})
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 5
    assert {"request_id", "principal_id", "model", "cost_usd", "status"} <= set(rows[0])
    header = next(iter(csv.reader(io.StringIO(totals.text))))
    assert header[0] == "model"


async def test_members_see_only_their_own_usage(platform: Platform) -> None:
    alice_id, alice, bob_id, _ = await _traffic(platform)
    async with platform.client(alice) as http:
        mine = (await http.get("/admin/v1/usage", params={"group_by": "principal"})).json()
        records = (
            await http.get("/admin/v1/usage/records", params={"principal_id": bob_id})
        ).json()
    assert [t["group"] for t in mine["totals"]] == [alice_id]
    assert {r["principal_id"] for r in records["records"]} == {alice_id}


async def test_pagination(platform: Platform) -> None:
    await _traffic(platform)
    first = await platform.admin("GET", "/usage/records", params={"limit": 2})
    assert len(first["records"]) == 2
    assert first["next_offset"] == 2
    rest = await platform.admin("GET", "/usage/records", params={"limit": 10, "offset": 2})
    assert len(rest["records"]) == 3
    assert rest["next_offset"] is None
    async with platform.client(platform.admin_key) as http:
        bad = await http.get("/admin/v1/usage/records", params={"limit": 0})
        bad_group = await http.get("/admin/v1/usage", params={"group_by": "planet"})
        bad_time = await http.get("/admin/v1/usage", params={"start": "yesterday"})
    assert bad.status_code == bad_group.status_code == bad_time.status_code == 400
    assert bad_group.json()["error"]["param"] == "group_by"


async def test_me_shows_the_plans_in_force(platform: Platform) -> None:
    plan = await platform.admin("POST", "/plans", json={"name": "mine", "requests_per_minute": 9})
    _, _, secret = await platform.user_with_key("me-user", plan_id=plan["id"])
    async with platform.client(secret) as http:
        me = (await http.get("/admin/v1/me")).json()
    assert me["principal"]["name"] == "me-user"
    assert [p["name"] for p in me["plans"]] == ["mine"]
