"""No memory route leaks across users: user A gets 404 (or 403 when naming B) for every
route aimed at user B's sessions and memories, and B's data is unchanged afterwards. Admins
manage everyone's; a service acting for a user sees exactly that user's data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from memory_harness import API, Platform, User

pytestmark = pytest.mark.asyncio(loop_scope="module")


@dataclass
class Victim:
    user: User
    session: str
    message: str
    memory: str


async def _victim(platform: Platform) -> Victim:
    bob = await platform.user("bob")
    session = await bob.session("diary")
    [turn] = await bob.say(session, "My bank PIN hint is the name of my first cat, Tom.")
    memory = await bob.ok(
        "POST",
        "/memories",
        json={"text": "Bob's first cat was called Tom", "source_message_ids": [turn["id"]]},
    )
    await platform.settle()
    return Victim(bob, session, turn["id"], memory["id"])


def _cases(v: Victim) -> list[tuple[str, str, str, dict[str, Any], int]]:
    """(method, route template, concrete path, request kwargs, expected status)."""
    s, m, b = v.session, v.memory, v.user.id
    msg = {"role": "user", "content": "sneaky"}
    return [
        ("POST", "/sessions", "/sessions", {"json": {"agent_id": "x", "user_id": b}}, 403),
        ("GET", "/sessions", "/sessions", {"params": {"user_id": b}}, 403),
        ("GET", "/sessions/{session_id}", f"/sessions/{s}", {}, 404),
        ("DELETE", "/sessions/{session_id}", f"/sessions/{s}", {}, 404),
        ("POST", "/sessions/{session_id}/messages", f"/sessions/{s}/messages", {"json": msg}, 404),
        ("GET", "/sessions/{session_id}/messages", f"/sessions/{s}/messages", {}, 404),
        ("GET", "/sessions/{session_id}/extraction", f"/sessions/{s}/extraction", {}, 404),
        ("POST", "/memories", "/memories", {"json": {"text": "x", "user_id": b}}, 403),
        ("GET", "/memories", "/memories", {"params": {"user_id": b}}, 403),
        ("GET", "/memories/{memory_id}", f"/memories/{m}", {}, 404),
        ("PATCH", "/memories/{memory_id}", f"/memories/{m}", {"json": {"text": "pwned"}}, 404),
        ("DELETE", "/memories/{memory_id}", f"/memories/{m}", {}, 404),
        (
            "POST",
            "/memories/search",
            "/memories/search",
            {"json": {"query": "cat", "user_id": b}},
            403,
        ),
    ]


def _memory_routes(platform: Platform) -> set[tuple[str, str]]:
    """Every memory route the app serves, from its OpenAPI description."""
    paths: dict[str, dict[str, Any]] = platform.app.openapi()["paths"]
    return {
        (method.upper(), path[len(API) :])
        for path, operations in paths.items()
        if path.startswith(API)
        for method in operations
    }


async def _unchanged(platform: Platform, victim: Victim) -> None:
    bob = victim.user
    history = await bob.ok("GET", f"/sessions/{victim.session}/messages")
    assert [m["id"] for m in history["data"]] == [victim.message]
    memory = await bob.ok("GET", f"/memories/{victim.memory}")
    assert memory["text"] == "Bob's first cat was called Tom"
    assert [s["message_id"] for s in memory["sources"]] == [victim.message]


async def test_every_route_refuses_another_users_objects(platform: Platform) -> None:
    victim = await _victim(platform)
    alice = await platform.user("alice")
    await alice.say(await alice.session(), "I like cats too.")
    cases = _cases(victim)
    assert {(method, template) for method, template, *_ in cases} == _memory_routes(platform)
    for method, _template, path, kwargs, expected in cases:
        response = await alice.call(method, path, **kwargs)
        assert response.status_code == expected, (method, path, response.text)
        assert "Tom" not in response.text and victim.session not in response.text.replace(
            f"'{victim.session}'",
            "",  # a 404 may echo the id the caller sent, nothing more
        )
    await _unchanged(platform, victim)


async def test_search_and_lists_only_show_the_callers_data(platform: Platform) -> None:
    victim = await _victim(platform)
    alice = await platform.user("alice")
    own = await alice.session()
    await alice.say(own, "My cat is called Luna.")
    await platform.settle()
    for hit in await alice.search("cat called Tom", top_k=50):
        assert hit["user_id"] == alice.id
        assert all(source["session_id"] == own for source in hit["sources"])
    assert [s["id"] for s in (await alice.ok("GET", "/sessions"))["data"]] == [own]
    assert (await alice.ok("GET", "/memories"))["data"] == []
    stolen = await alice.call(
        "POST", "/memories", json={"text": "mine now", "source_message_ids": [victim.message]}
    )
    assert stolen.status_code == 400 and stolen.json()["error"]["code"] == "unknown_message"
    assert (await alice.ok("GET", "/memories"))["data"] == []


async def test_admins_manage_everyones_memory(platform: Platform) -> None:
    victim = await _victim(platform)
    admin = await platform.admin()
    b = victim.user.id
    assert [
        s["id"] for s in (await admin.ok("GET", "/sessions", params={"user_id": b}))["data"]
    ] == [victim.session]
    assert (await admin.ok("GET", f"/sessions/{victim.session}/messages"))["data"]
    [note] = await admin.say(victim.session, "Support note: account reviewed.", role="system")
    assert note["position"] == 2
    found = await admin.search("first cat Tom", user_id=b)
    assert victim.memory in [hit["id"] for hit in found]
    changed = await admin.ok("PATCH", f"/memories/{victim.memory}", json={"type": "fact"})
    assert changed["user_id"] == b
    made = await admin.ok("POST", "/sessions", json={"agent_id": "support", "user_id": b})
    assert made["user_id"] == b
    assert (await admin.call("DELETE", f"/memories/{victim.memory}")).status_code == 204
    assert (await victim.user.call("GET", f"/memories/{victim.memory}")).status_code == 404


async def test_a_service_acting_for_a_user_sees_only_that_user(platform: Platform) -> None:
    victim = await _victim(platform)
    alice = await platform.user("alice")
    service_key = platform.app.state.platform.service_key
    for_bob = platform.client(service_key, **{"X-Agentic-Act-As": victim.user.id})
    for_alice = platform.client(service_key, **{"X-Agentic-Act-As": alice.id})
    async with for_bob as http:
        own = await http.get(f"{API}/sessions/{victim.session}")
        assert own.status_code == 200
        assert own.json()["user_id"] == victim.user.id
    async with for_alice as http:
        assert (await http.get(f"{API}/sessions/{victim.session}")).status_code == 404
        made = await http.post(f"{API}/sessions", json={"agent_id": "support"})
        assert made.json()["user_id"] == alice.id
