"""Numbers out of range on the admin API are a 400 in the error envelope, and nothing is
written: the bodies the schema fuzzing found answering 500."""

from __future__ import annotations

from typing import Any

import pytest
from governance_harness import Platform


@pytest.mark.parametrize(
    "body",
    [
        {"expires_in_days": 1.2979067356754076e16},
        {"expires_in_days": 3e6},
        {"expires_in_days": 1.2596808168389723e308},
    ],
)
async def test_a_key_expiry_out_of_range_is_a_400(platform: Platform, body: dict[str, Any]) -> None:
    before = await platform.admin("GET", "/keys")
    async with platform.client(platform.admin_key) as http:
        refused = await http.post("/admin/v1/keys", json=body)
    assert refused.status_code == 400, refused.text
    assert "expires_in_days" in refused.json()["error"]["message"]
    assert await platform.admin("GET", "/keys") == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("requests_per_minute", 2**63),
        ("requests_per_minute", 2200983230039543859118080),
        ("max_concurrent_requests", 2**31),
        ("budget_usd_per_day", 1e300),
    ],
)
async def test_a_plan_limit_out_of_range_is_a_400(
    platform: Platform, field: str, value: float
) -> None:
    async with platform.client(platform.admin_key) as http:
        refused = await http.post("/admin/v1/plans", json={"name": f"huge-{field}", field: value})
        assert refused.status_code == 400, refused.text
        assert field in refused.json()["error"]["message"]
        names = [plan["name"] for plan in (await http.get("/admin/v1/plans")).json()]
    assert f"huge-{field}" not in names


@pytest.mark.parametrize("offset", ["162188839815431413720764567781376", str(2**63), "1e20"])
async def test_a_usage_offset_out_of_range_is_a_400(platform: Platform, offset: str) -> None:
    async with platform.client(platform.admin_key) as http:
        refused = await http.get("/admin/v1/usage/records", params={"offset": offset})
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize("field", ["name", "description"])
async def test_a_null_key_name_or_description_is_a_400(platform: Platform, field: str) -> None:
    issued = await platform.admin("POST", "/keys", json={"name": "kept", "description": "kept"})
    async with platform.client(platform.admin_key) as http:
        refused = await http.patch(f"/admin/v1/keys/{issued['id']}", json={field: None})
    assert refused.status_code == 400, refused.text
    assert field in refused.json()["error"]["message"]
    assert (await platform.admin("GET", f"/keys/{issued['id']}"))[field] == "kept"


@pytest.mark.parametrize("field", ["name", "roles", "team_id", "disabled"])
async def test_a_null_principal_field_is_a_400(platform: Platform, field: str) -> None:
    who = await platform.admin("POST", "/principals", json={"name": f"null-{field}"})
    async with platform.client(platform.admin_key) as http:
        refused = await http.patch(f"/admin/v1/principals/{who['id']}", json={field: None})
    assert refused.status_code == 400, refused.text
    assert field in refused.json()["error"]["message"]
    assert await platform.admin("GET", f"/principals/{who['id']}") == who
