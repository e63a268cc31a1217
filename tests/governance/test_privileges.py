"""Nobody gains rights through act-as or through keys: a service acting for an admin is not
an admin, and a key can create or change keys only within its own limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from governance_harness import Platform

ACT_AS = "X-Agentic-Act-As"


async def _team_service(platform: Platform) -> str:
    service = await platform.admin(
        "POST", "/principals", json={"name": "team-bot", "kind": "service", "roles": ["service"]}
    )
    issued = await platform.admin("POST", "/keys", json={"principal_id": service["id"]})
    return str(issued["secret"])


async def test_a_team_service_cannot_act_for_an_admin(platform: Platform) -> None:
    secret = await _team_service(platform)
    admin_id = (await platform.admin("GET", "/me"))["principal"]["id"]
    before = await platform.admin("GET", "/keys")
    async with platform.client(secret, **{ACT_AS: admin_id}) as http:
        for method, path, body in [
            ("GET", "/admin/v1/principals", None),
            ("POST", "/admin/v1/keys", {"name": "stolen"}),
            ("GET", "/llm/v1/models", None),
        ]:
            refused = await http.request(method, path, json=body)
            assert refused.status_code == 403, (path, refused.text)
            assert refused.json()["error"]["code"] == "act_as_not_allowed"
    assert await platform.admin("GET", "/keys") == before


async def test_acting_for_a_member_reaches_no_key_or_admin_route(platform: Platform) -> None:
    secret = await _team_service(platform)
    member_id, _, _ = await platform.user_with_key("acted-for")
    async with platform.client(secret, **{ACT_AS: member_id}) as http:
        assert (await http.get("/llm/v1/models")).status_code == 200
        me = (await http.get("/admin/v1/me")).json()
        assert me["principal"]["id"] == member_id
        refused = await http.post("/admin/v1/keys", json={"name": "for me"})
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "act_as_not_allowed"


async def test_the_platform_service_acting_for_an_admin_is_no_admin_on_the_admin_api(
    platform: Platform,
) -> None:
    state = platform.state
    admin_id = (await platform.admin("GET", "/me"))["principal"]["id"]
    async with platform.client(state.service_key, **{ACT_AS: admin_id}) as http:
        assert (await http.get("/llm/v1/models")).status_code == 200
        assert (await http.get("/admin/v1/principals")).status_code == 403
        assert (await http.post("/admin/v1/keys", json={})).status_code == 403


async def test_a_restricted_key_cannot_lift_its_limits(platform: Platform) -> None:
    soon = datetime.now(UTC) + timedelta(days=1)
    _, key_id, secret = await platform.user_with_key(
        "restricted", allowed_models=["ech*"], expires_at=soon.isoformat()
    )
    before = await platform.admin("GET", f"/keys/{key_id}")
    async with platform.client(secret) as http:
        lifted = await http.patch(
            f"/admin/v1/keys/{key_id}", json={"allowed_models": None, "expires_at": None}
        )
        assert lifted.status_code == 403, lifted.text
        assert lifted.json()["error"]["code"] == "exceeds_key_limits"
        wider = await http.post("/admin/v1/keys", json={"allowed_models": ["*"]})
        assert wider.status_code == 403
        later = (soon + timedelta(days=30)).isoformat()
        assert (await http.post("/admin/v1/keys", json={"expires_at": later})).status_code == 403
        inherited = await http.post("/admin/v1/keys", json={"name": "child"})
        assert inherited.status_code == 201, inherited.text
        assert inherited.json()["allowed_models"] == ["ech*"]
        assert inherited.json()["expires_at"] is not None
        narrower = await http.post("/admin/v1/keys", json={"allowed_models": ["echo"]})
        assert narrower.status_code == 201
    assert await platform.admin("GET", f"/keys/{key_id}") == before


async def test_a_key_with_its_own_plan_cannot_mint_or_rotate(platform: Platform) -> None:
    plan = await platform.admin("POST", "/plans", json={"name": "tight", "requests_per_minute": 5})
    _, key_id, secret = await platform.user_with_key("planned", plan_id=plan["id"])
    async with platform.client(secret) as http:
        minted = await http.post("/admin/v1/keys", json={})
        assert minted.status_code == 403
        rotated = await http.post(f"/admin/v1/keys/{key_id}/rotate")
        assert rotated.status_code == 403
    assert (await platform.chat(secret)).status_code == 200
