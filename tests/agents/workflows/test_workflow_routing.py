"""``routing``: the classifier's label picks the handler; an unknown label, or an unreadable
answer, goes to the default route."""

from __future__ import annotations

import pytest
from agents_harness import Platform
from workflows_harness import assert_well_ordered, knowledge_base, step_names

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_a_calculation_takes_the_math_route_and_its_calculator(platform: Platform) -> None:
    alice = await platform.user("alice")
    answer = await alice.ok("routing", message="MATH: 6 * 7")
    assert step_names(answer) == ["classify", "route:math"]
    assert [call["name"] for call in answer["tool_calls"]] == ["calculator"]
    assert answer["tool_calls"][0]["result"] == "42"
    assert answer["output"] == "The result is 42."


async def test_an_ordinary_question_takes_the_general_route(platform: Platform) -> None:
    alice = await platform.user("alice")
    answer = await alice.ok("routing", message="How are you?")
    assert step_names(answer) == ["classify", "route:general"]
    assert answer["output"] == "plain answer" and answer["tool_calls"] == []


@pytest.mark.parametrize("message", ["ODD: write me a sonnet", "GARBLE: anything"])
async def test_an_unexpected_or_unreadable_label_goes_to_the_default_route(
    platform: Platform, message: str
) -> None:
    alice = await platform.user("alice")
    answer = await alice.ok("routing", message=message)
    assert step_names(answer) == ["classify", "route:general"]
    assert answer["output"] == "plain answer"


async def test_the_knowledge_route_is_only_offered_with_a_knowledge_base(
    platform: Platform,
) -> None:
    alice = await platform.user("alice")
    without = await alice.ok("routing", message="DOCS: what is our VPN rule?")
    assert step_names(without) == ["classify", "route:general"]
    kb = await knowledge_base(
        alice, "it-rules", {"id": "vpn", "text": "Connect to the VPN before opening the wiki."}
    )
    events = await alice.stream("routing", message="DOCS: what is our VPN rule?", knowledge_base=kb)
    assert_well_ordered(events)
    assert [e["name"] for e in events if e["type"] == "step_started"] == [
        "classify",
        "route:knowledge",
    ]
    searched = next(e for e in events if e["type"] == "tool_call_finished")
    assert searched["name"] == "search_knowledge_base" and not searched["is_error"]
    assert events[-1]["output"] == (
        "plain answer [from: [1] (vpn) Connect to the VPN before opening the wiki.]"
    )
