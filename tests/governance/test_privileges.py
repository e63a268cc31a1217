"""Nobody gains rights through act-as or through keys: a service acting for an admin is not
an admin, a service acting for a user keeps its own key's allowlist and plan, a team's
service acts only for users of its team, and a key can create or change keys only within its
own limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from governance_harness import Platform, clear_of_minute_boundary

ACT_AS = "X-Agentic-Act-As"


async def _team_service(
    platform: Platform, *, name: str = "team-bot", roles: tuple[str, ...] = ("service",), **key: Any
) -> str:
    """A service account of the admin's team and a key of its (``key``: the key's fields)."""
    service = await platform.admin(
        "POST", "/principals", json={"name": name, "kind": "service", "roles": list(roles)}
    )
    issued = await platform.admin("POST", "/keys", json={"principal_id": service["id"], **key})
    return str(issued["secret"])


async def _chat_as(platform: Platform, secret: str, user_id: str, model: str) -> Any:
    async with platform.client(secret, **{ACT_AS: user_id}) as http:
        return await http.post(
            "/llm/v1/chat/completions",
            json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
        )


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


async def test_acting_for_a_user_keeps_the_service_keys_model_allowlist(
    platform: Platform,
) -> None:
    secret = await _team_service(platform, allowed_models=["echo"])
    member_id, _, member_secret = await platform.user_with_key("may-use-priced")
    assert (await platform.chat(member_secret, model="priced")).status_code == 200
    refused = await _chat_as(platform, secret, member_id, "priced")
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "model_not_allowed"
    assert (await _chat_as(platform, secret, member_id, "echo")).status_code == 200


async def test_acting_for_users_counts_against_the_service_keys_plan(platform: Platform) -> None:
    plan = await platform.admin("POST", "/plans", json={"name": "bot", "requests_per_minute": 2})
    secret = await _team_service(platform, plan_id=plan["id"])
    ann, _, ann_secret = await platform.user_with_key("ann")
    bob, _, _ = await platform.user_with_key("bob")
    await clear_of_minute_boundary()
    assert (await _chat_as(platform, secret, ann, "echo")).status_code == 200
    assert (await _chat_as(platform, secret, bob, "echo")).status_code == 200
    refused = await _chat_as(platform, secret, ann, "echo")
    assert refused.status_code == 429, refused.text
    assert "2 requests per minute" in refused.json()["error"]["message"]
    # The service's plan is the service's: the user's own calls are not held by it.
    assert (await platform.chat(ann_secret)).status_code == 200


async def test_a_team_service_cannot_act_for_another_teams_user(platform: Platform) -> None:
    secret = await _team_service(platform)
    other = await platform.admin("POST", "/teams", json={"name": "elsewhere"})
    stranger = await platform.admin(
        "POST", "/principals", json={"name": "stranger", "team_id": other["id"]}
    )
    for path in ("/llm/v1/models", "/admin/v1/me", "/memory/v1/sessions"):
        async with platform.client(secret, **{ACT_AS: stranger["id"]}) as http:
            refused = await http.get(path)
        assert refused.status_code == 403, (path, refused.text)
        assert refused.json()["error"]["code"] == "act_as_not_allowed"
    assert (await _chat_as(platform, secret, stranger["id"], "echo")).status_code == 403
    admin_service = await _team_service(platform, name="admin-bot", roles=("service", "admin"))
    assert (await _chat_as(platform, admin_service, stranger["id"], "echo")).status_code == 200


async def test_a_service_cannot_act_for_another_service_account(platform: Platform) -> None:
    secret = await _team_service(platform)
    admin_service = await _team_service(platform, name="admin-bot", roles=("service", "admin"))
    other_bot = await platform.admin(
        "POST", "/principals", json={"name": "other-bot", "kind": "service", "roles": ["service"]}
    )
    for caller in (secret, admin_service):
        refused = await _chat_as(platform, caller, other_bot["id"], "echo")
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "act_as_not_allowed"
        assert "service account" in refused.json()["error"]["message"]


async def test_only_the_platform_carries_a_users_key_and_only_as_that_key_allows(
    platform: Platform,
) -> None:
    """``X-Agentic-Act-As-Key`` (a user's key carried along by a platform service) is refused
    from anyone else, alone, or naming another user's key; from the platform the call is as
    that key's."""
    key_header = "X-Agentic-Act-As-Key"
    service_secret = await _team_service(platform)
    ann, ann_key, ann_secret = await platform.user_with_key("ann")
    _, bob_key, _ = await platform.user_with_key("bob")
    narrow = await platform.admin(
        "POST", "/keys", json={"principal_id": ann, "name": "echo-only", "allowed_models": ["echo"]}
    )
    platform_key = platform.state.service_key
    chat = {"model": "priced", "messages": [{"role": "user", "content": "hi"}]}
    for caller, headers in [
        (service_secret, {ACT_AS: ann, key_header: ann_key}),
        (ann_secret, {key_header: ann_key}),
        (platform_key, {ACT_AS: ann, key_header: bob_key}),
    ]:
        async with platform.client(caller, **headers) as http:
            refused = await http.post("/llm/v1/chat/completions", json=chat)
        assert refused.status_code == 403, (headers, refused.text)
        assert refused.json()["error"]["code"] == "act_as_not_allowed"
    async with platform.client(platform_key, **{ACT_AS: ann, key_header: narrow["id"]}) as http:
        refused = await http.post("/llm/v1/chat/completions", json=chat)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "model_not_allowed"
        allowed = await http.post("/llm/v1/chat/completions", json={**chat, "model": "echo"})
        assert allowed.status_code == 200, allowed.text
