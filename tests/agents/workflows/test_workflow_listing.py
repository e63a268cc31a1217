"""The workflows are listed with the agents, as kind ``workflow``."""

from __future__ import annotations

import pytest
from agents_harness import Platform
from workflows_harness import WORKFLOWS

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_every_workflow_is_listed_as_a_workflow(platform: Platform) -> None:
    alice = await platform.user("alice")
    listed = await alice.call("GET", "")
    assert listed.status_code == 200, listed.text
    cards = {card["name"]: card for card in listed.json()["data"]}
    assert cards["diy-agent"]["kind"] == "agent"
    for name in WORKFLOWS:
        assert cards[name]["kind"] == "workflow" and cards[name]["description"]
        assert cards[name]["input_schema"]["required"] == ["message"]
        assert "search_knowledge_base" in cards[name]["tools"]
    assert cards["routing"]["tools"] == ["calculator", "search_knowledge_base"]
