"""``POST /agents/v1/{name}/stream``: the documented events, in order, for a run that
succeeds and for runs that fail."""

from __future__ import annotations

import pytest
from agents_harness import Platform

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_a_streamed_run_sends_its_events_in_order(platform: Platform) -> None:
    alice = await platform.user("alice")
    events = await alice.stream(message="3 * 4")
    kinds = [event["type"] for event in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    assert kinds.index("tool_call_started") < kinds.index("tool_call_finished")
    assert kinds.index("tool_call_finished") < kinds.index("text_delta")
    started = events[kinds.index("tool_call_started")]
    finished = events[kinds.index("tool_call_finished")]
    assert started["name"] == finished["name"] == "calculator"
    assert started["call_id"] == finished["call_id"]
    assert finished["result"] == "12" and finished["is_error"] is False
    text = "".join(event["text"] for event in events if event["type"] == "text_delta")
    done = events[-1]
    assert text == done["output"] == "The answer is 12."
    assert done["run_id"] == events[0]["run_id"]
    assert done["session_id"] == events[0]["session_id"]
    assert done["usage"]["total_tokens"] > 0


async def test_a_failing_streamed_run_ends_with_an_error_event(platform: Platform) -> None:
    alice = await platform.user("alice")
    with platform.agent_model("diy-agent", "loop-bot"):
        events = await alice.stream(message="loop")
    assert events[0]["type"] == "run_started"
    assert events[-1]["type"] == "error"
    assert events[-1]["code"] == "step_limit_reached" and events[-1]["status"] == 422
    assert not [event for event in events if event["type"] == "run_finished"]
    assert sum(event["type"] == "tool_call_finished" for event in events) == 10


async def test_bad_input_to_a_stream_is_a_plain_4xx(platform: Platform) -> None:
    alice = await platform.user("alice")
    unknown = await alice.call("POST", "/nobody/stream", json={"message": "hi"})
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "agent_not_found"
    malformed = await alice.call("POST", "/diy-agent/stream", json={"message": ""})
    assert malformed.status_code == 400
