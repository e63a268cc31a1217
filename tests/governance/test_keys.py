"""API keys: create, use, list, revoke, rotate, expire; members manage only their own."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from governance_harness import Platform, running

from agentic_platform.settings import Settings


async def test_key_lifecycle(platform: Platform) -> None:
    user_id, key_id, secret = await platform.user_with_key("alice", description="laptop")
    assert secret.startswith("agp_")
    assert (await platform.chat(secret)).status_code == 200

    listed = await platform.admin("GET", "/keys", params={"principal_id": user_id})
    assert [k["id"] for k in listed] == [key_id]
    assert "secret" not in listed[0]
    assert secret.startswith(listed[0]["prefix"])

    await platform.admin("POST", f"/keys/{key_id}/revoke")
    await asyncio.sleep(1.0)  # revocation reaches every replica within a second
    refused = await platform.chat(secret)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "revoked_api_key"


async def test_revocation_reaches_another_replica_within_a_second(
    governed_settings: Settings,
) -> None:
    async with running(governed_settings) as first, running(governed_settings) as second:
        _, key_id, secret = await first.user_with_key("bob")
        assert (await second.chat(secret)).status_code == 200  # now cached on the second
        await first.admin("POST", f"/keys/{key_id}/revoke")
        started = asyncio.get_running_loop().time()
        while (await second.chat(secret)).status_code == 200:
            await asyncio.sleep(0.05)
        assert asyncio.get_running_loop().time() - started < 1.0


async def test_last_used_time_is_recorded(platform: Platform) -> None:
    _, key_id, secret = await platform.user_with_key("carol")
    assert (await platform.admin("GET", f"/keys/{key_id}"))["last_used_at"] is None
    await platform.chat(secret)
    await asyncio.sleep(0.5)
    assert (await platform.admin("GET", f"/keys/{key_id}"))["last_used_at"] is not None


async def test_rotation(platform: Platform) -> None:
    _, key_id, old = await platform.user_with_key("dave", allowed_models=["echo"])
    rotated = await platform.admin("POST", f"/keys/{key_id}/rotate")
    assert rotated["id"] != key_id
    assert rotated["allowed_models"] == ["echo"]
    await asyncio.sleep(1.0)
    assert (await platform.chat(old)).status_code == 401
    assert (await platform.chat(rotated["secret"])).status_code == 200


async def test_rotation_with_grace_keeps_the_old_key_for_a_while(platform: Platform) -> None:
    _, key_id, old = await platform.user_with_key("erin")
    rotated = await platform.admin("POST", f"/keys/{key_id}/rotate", json={"grace_seconds": 60})
    await asyncio.sleep(0.5)
    assert (await platform.chat(old)).status_code == 200
    assert (await platform.chat(rotated["secret"])).status_code == 200


async def test_expiry(platform: Platform) -> None:
    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    _, _, secret = await platform.user_with_key("frank", expires_at=soon)
    assert (await platform.chat(secret)).status_code == 200
    await asyncio.sleep(1.2)
    expired = await platform.chat(secret)
    assert expired.status_code == 401
    assert expired.json()["error"]["code"] == "expired_api_key"


async def test_key_allowed_models(platform: Platform) -> None:
    _, _, secret = await platform.user_with_key("gina", allowed_models=["ech*"])
    assert (await platform.chat(secret, model="echo")).status_code == 200
    refused = await platform.chat(secret, model="weather-bot")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "model_not_allowed"


async def test_members_manage_only_their_own_keys(platform: Platform) -> None:
    alice_id, alice_key_id, alice = await platform.user_with_key("alice2")
    _, bob_key_id, bob = await platform.user_with_key("bob2")
    async with platform.client(alice) as http:
        own = await http.post("/admin/v1/keys", json={"name": "second"})
        assert own.status_code == 201
        assert own.json()["principal_id"] == alice_id
        listed = (await http.get("/admin/v1/keys")).json()
        assert {k["id"] for k in listed} == {alice_key_id, own.json()["id"]}
        assert (await http.get(f"/admin/v1/keys/{bob_key_id}")).status_code == 404
        assert (await http.post(f"/admin/v1/keys/{bob_key_id}/revoke")).status_code == 404
        for_bob = await http.post("/admin/v1/keys", json={"principal_id": "usr_x"})
        assert for_bob.status_code == 403
        with_plan = await http.post("/admin/v1/keys", json={"plan_id": "plan_x"})
        assert with_plan.status_code == 403
    assert (await platform.chat(bob)).status_code == 200


async def test_bad_admin_input_is_a_clear_400(platform: Platform) -> None:
    async with platform.client(platform.admin_key) as http:
        unknown_field = await http.post("/admin/v1/keys", json={"nmae": "typo"})
        assert unknown_field.status_code == 400
        assert unknown_field.json()["error"]["param"] == "nmae"
        bad_expiry = await http.post("/admin/v1/keys", json={"expires_in_days": -1})
        assert bad_expiry.status_code == 400
        missing_owner = await http.post("/admin/v1/keys", json={"principal_id": "usr_nobody"})
        assert missing_owner.status_code == 404
        bad_role = await http.post("/admin/v1/principals", json={"name": "x", "roles": ["root"]})
        assert bad_role.status_code == 400
        duplicate = await http.post("/admin/v1/teams", json={"name": "default"})
        assert duplicate.status_code == 409
