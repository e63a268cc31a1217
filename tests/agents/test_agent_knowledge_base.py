"""An agent grounded in a knowledge base: the model's search_knowledge_base call runs in the
retrieval gateway as the caller, over the knowledge bases the invocation names."""

from __future__ import annotations

from pathlib import Path

import orjson
from agents_harness import agent_settings, running


async def test_the_agent_answers_from_the_callers_knowledge_base(
    tmp_path: Path, admin_key: str
) -> None:
    settings = agent_settings(
        tmp_path, admin_key, f"sqlite+aiosqlite:///{tmp_path / 'p.db'}", default_model="kb-bot"
    )
    settings.services = ["llm-gateway", "memory", "retrieval", "agents"]
    settings.retrieval.default_embedding_model = "test-embed"
    async with running(settings) as platform:
        alice = await platform.user("alice")
        async with alice.client() as http:
            created = await http.post("/retrieval/v1/knowledge-bases", json={"name": "handbook"})
            assert created.status_code == 201, created.text
            added = await http.post(
                "/retrieval/v1/knowledge-bases/handbook/documents",
                json={
                    "documents": [
                        {"id": "leave", "text": "Staff get thirty days of paid leave a year."},
                        {"id": "bikes", "text": "Bicycles are parked in the basement."},
                    ]
                },
            )
            assert added.status_code < 300, added.text
        answer = await alice.ok(message="paid leave days", knowledge_base="handbook")
        assert answer["output"] == "Found: Staff get thirty days of paid leave a year."
        [call] = answer["tool_calls"]
        assert call["name"] == "search_knowledge_base" and not call["is_error"]
        assert orjson.loads(call["result"])["results"][0]["document_id"] == "leave"
        without = await alice.ok(message="paid leave days")
        assert "there is no tool 'search_knowledge_base'" in without["output"]
        bob = await platform.user("bob")
        denied = await bob.ok(message="paid leave days", knowledge_base="no-such-kb")
        assert denied["tool_calls"][0]["is_error"] is True
