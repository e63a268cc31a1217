"""Bad input gets a clear 4xx that says what to fix, and nothing is half-written."""

from __future__ import annotations

from typing import Any

import pytest
from memory_harness import Platform, User

from agentic_platform.memory.models import MemoryRow

pytestmark = pytest.mark.asyncio(loop_scope="module")


def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["message"]
    return error


async def _history(user: User, session: str) -> list[str]:
    page = await user.ok("GET", f"/sessions/{session}/messages")
    return [m["content"] for m in page["data"]]


async def test_unknown_session(platform: Platform) -> None:
    ann = await platform.user("ann")
    for method, path, body in (
        ("GET", "/sessions/ses_nope", None),
        ("POST", "/sessions/ses_nope/messages", {"role": "user", "content": "hi"}),
        ("GET", "/sessions/ses_nope/messages", None),
        ("GET", "/sessions/ses_nope/extraction", None),
        ("DELETE", "/sessions/ses_nope", None),
    ):
        error = _error(await ann.call(method, path, json=body), 404)
        assert error["code"] == "session_not_found" and "ses_nope" in error["message"]
    error = _error(await ann.call("GET", "/memories/mem_nope"), 404)
    assert error["code"] == "memory_not_found"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"role": "user", "content": ""}, "content"),
        ({"role": "user", "content": "   \n "}, "content"),
        ({"role": "robot", "content": "hi"}, "role"),
        ({"content": "hi"}, "role"),
        ({"role": "user", "content": "hi", "occurred_at": "2024-01-01T10:00:00"}, "occurred_at"),
        ({"role": "user", "content": "hi", "extra": 1}, "extra"),
    ],
)
async def test_bad_messages_are_refused_and_nothing_is_written(
    platform: Platform, body: dict[str, Any], param: str
) -> None:
    ann = await platform.user("ann")
    session = await ann.session()
    await ann.say(session, "first")
    error = _error(await ann.call("POST", f"/sessions/{session}/messages", json=body), 400)
    assert error["param"] == param
    assert await _history(ann, session) == ["first"]


async def test_malformed_json_and_empty_bodies(platform: Platform) -> None:
    ann = await platform.user("ann")
    session = await ann.session()
    path = f"/sessions/{session}/messages"
    error = _error(await ann.call("POST", path, content=b'{"role": "user", "content": '), 400)
    assert error["code"] == "invalid_json"
    _error(await ann.call("POST", path, content=b""), 400)
    _error(await ann.call("POST", path, content=b"[1, 2]"), 400)
    assert await _history(ann, session) == []


async def test_a_message_over_the_size_limit(platform: Platform) -> None:
    ann = await platform.user("ann")
    session = await ann.session()
    limit = platform.memory.settings.max_message_bytes
    huge = "é" * (limit // 2 + 1)  # under the limit in characters, over it in bytes
    error = _error(
        await ann.call(
            "POST", f"/sessions/{session}/messages", json={"role": "user", "content": huge}
        ),
        413,
    )
    assert error["code"] == "message_too_large" and str(limit) in error["message"]
    assert await _history(ann, session) == []


@pytest.mark.parametrize(
    ("filter_", "code"),
    [
        ({"field": "owner_id", "op": "eq", "value": "usr_x"}, "unknown_filter_field"),
        ({"field": "type", "op": "between", "value": 1}, None),
        ({"field": "type", "op": "in", "value": "fact"}, None),
        ({"and": []}, None),
        ({"field": "time", "op": "gte", "value": True}, None),
    ],
)
async def test_malformed_filters(
    platform: Platform, filter_: dict[str, Any], code: str | None
) -> None:
    ann = await platform.user("ann")
    response = await ann.call(
        "POST", "/memories/search", json={"query": "anything", "filter": filter_}
    )
    error = _error(response, 400)
    assert error["param"] is None or error["param"].startswith("filter")
    if code is not None:
        assert error["code"] == code


async def test_bad_search_and_memory_requests(platform: Platform) -> None:
    ann = await platform.user("ann")
    for body, param in (
        ({"query": ""}, "query"),
        ({"query": "x", "top_k": 0}, "top_k"),
        ({"query": "x", "top_k": 100000}, "top_k"),
        ({"query": "x", "mode": "psychic"}, "mode"),
    ):
        assert _error(await ann.call("POST", "/memories/search", json=body), 400)["param"] == param
    for body, param in (
        ({"text": ""}, "text"),
        ({"text": "x", "type": "opinion"}, "type"),
        ({"text": "x", "source_message_ids": ["msg_nope"]}, "source_message_ids"),
    ):
        assert _error(await ann.call("POST", "/memories", json=body), 400)["param"] == param
    assert (await ann.ok("GET", "/memories"))["data"] == []
    error = _error(
        await ann.call("GET", "/sessions/x/messages", params={"last": 2, "after": 1}), 400
    )
    assert error["param"] == "last"
    _error(await ann.call("GET", "/sessions", params={"limit": 0}), 400)


async def test_no_key_no_memory(platform: Platform) -> None:
    async with platform.client("agp_not_a_key") as http:
        assert (await http.get("/memory/v1/sessions")).status_code == 401


@pytest.mark.parametrize("field", ["text", "type", "metadata"])
async def test_a_null_in_a_patch_is_refused_and_changes_nothing(
    platform: Platform, field: str
) -> None:
    ann = await platform.user("ann")
    body = {"text": "Ann keeps bees", "type": "fact", "metadata": {"hive": 2}}
    created = await ann.ok("POST", "/memories", json=body)
    path = f"/memories/{created['id']}"
    other = {"type": "event"} if field == "text" else {"text": "Ann sold the bees"}
    error = _error(await ann.call("PATCH", path, json={field: None, **other}), 400)
    assert error["param"] == field
    assert "null" in error["message"] or "valid" in error["message"]
    after = await ann.ok("GET", path)
    assert (after["text"], after["type"], after["metadata"]) == (
        "Ann keeps bees",
        "fact",
        {"hive": 2},
    )
    assert after["updated_at"] == created["updated_at"]
    listed = await ann.ok("GET", "/memories")
    assert [m["id"] for m in listed["data"]] == [created["id"]]
    again = await ann.call("POST", "/memories", json={"text": "Ann keeps bees"})
    assert again.status_code == 200, again.text


async def test_a_memory_stored_with_null_metadata_reads_as_empty(platform: Platform) -> None:
    """A row an older release wrote with ``metadata: null`` no longer breaks the user's reads."""
    ann = await platform.user("ann")
    created = await ann.ok("POST", "/memories", json={"text": "Ann walks to work"})
    async with platform.app.state.platform.sessions() as db, db.begin():
        row = await db.get(MemoryRow, created["id"])
        assert row is not None
        row.metadata_ = None  # type: ignore[assignment]
    assert (await ann.ok("GET", f"/memories/{created['id']}"))["metadata"] == {}
    assert [m["metadata"] for m in (await ann.ok("GET", "/memories"))["data"]] == [{}]
    assert [hit["id"] for hit in await ann.search("walks to work")][:1] == [created["id"]]
    again = await ann.call("POST", "/memories", json={"text": "Ann walks to work"})
    assert again.status_code == 200 and again.json()["metadata"] == {}


def _agent_is(value: Any, op: str = "eq") -> dict[str, Any]:
    return {"field": "agent_id", "op": op, "value": value}


@pytest.mark.parametrize(
    ("method", "path", "body", "param"),
    [
        ("GET", f"/memories?offset={2**63}", None, "offset"),
        ("GET", "/memories?offset=1e20", None, "offset"),
        ("GET", f"/sessions?offset={2**63}", None, "offset"),
        ("GET", f"/memories?limit={2**63}", None, "limit"),
        ("POST", "/memories", {"text": "t", "occurred_at": "0001-01-01T00:00:00+05:00"}, None),
        ("POST", "/memories", {"text": "t", "occurred_at": "9999-12-31T23:00:00-05:00"}, None),
        ("POST", "/memories/search", {"query": "q", "top_k": 10**400}, "top_k"),
        ("POST", "/memories/search", {"query": "q", "top_k": 2**63}, "top_k"),
        ("POST", "/memories/search", {"query": "q", "filter": _agent_is(10**400)}, "filter"),
        ("POST", "/memories/search", {"query": "q", "filter": _agent_is(2**63)}, "filter"),
        (
            "POST",
            "/memories/search",
            {"query": "q", "filter": {"and": [_agent_is("a"), _agent_is([1, -(2**64)], "in")]}},
            "filter",
        ),
    ],
)
async def test_numbers_and_times_out_of_range_are_a_400(
    platform: Platform, method: str, path: str, body: dict[str, Any] | None, param: str | None
) -> None:
    ann = await platform.user("ann")
    error = _error(await ann.call(method, path, json=body), 400)
    assert error["param"].startswith(param or "occurred_at")
    assert (await ann.ok("GET", "/memories"))["data"] == []


@pytest.mark.parametrize(
    "query", [f"after={2**31}", f"before={2**63}", "after=1e20", f"last={2**63}"]
)
async def test_message_positions_out_of_range_are_a_400(platform: Platform, query: str) -> None:
    ann = await platform.user("ann")
    session = await ann.session()
    error = _error(await ann.call("GET", f"/sessions/{session}/messages?{query}"), 400)
    assert error["param"] == query.split("=")[0]


async def test_a_patch_with_a_time_out_of_range_changes_nothing(platform: Platform) -> None:
    ann = await platform.user("ann")
    created = await ann.ok("POST", "/memories", json={"text": "Ann met Bo"})
    path = f"/memories/{created['id']}"
    body = {"occurred_at": "0001-01-01T00:00:00+05:00", "text": "Ann met Cy"}
    error = _error(await ann.call("PATCH", path, json=body), 400)
    assert error["param"] == "occurred_at"
    assert (await ann.ok("GET", path))["text"] == "Ann met Bo"
