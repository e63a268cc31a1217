"""The typed client (over HTTP, and in-process acting for a user) and the
``search_knowledge_base`` tool agents call."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from retrieval_harness import SERVICES, retrieval_settings

from agentic_platform.app import create_app
from agentic_platform.clients.internal import retrieval_client_for
from agentic_platform.clients.llm import GatewayClientError
from agentic_platform.retrieval.client import RetrievalClient
from agentic_platform.retrieval.schemas import DocumentIn
from agentic_platform.retrieval.tools import KnowledgeBaseSearchTool


async def test_the_client_over_http(retrieval_url: str, admin_key: str) -> None:
    async with RetrievalClient(retrieval_url, admin_key) as client:
        kb = await client.create_knowledge_base("client-kb", description="for the client")
        assert kb.name == "client-kb"
        added = await client.add_documents(
            "client-kb",
            [DocumentIn(id="a", text="Solar panels turn light into power."), {"text": "Wind."}],
        )
        assert [d.status for d in added.data] == ["created", "created"]
        job = await client.start_ingest_job("client-kb", [{"id": "b", "text": "Hydro dams."}])
        assert (
            await client.wait_for_job("client-kb", job.id, poll_seconds=0.05)
        ).status == "succeeded"
        found = await client.retrieve("client-kb", "solar power", search_type="lexical")
        assert found.data[0].document_id == "a"
        assert [d.id for d in (await client.list_documents("client-kb", limit=2)).data] == [
            "a",
            "b",
        ]
        await client.delete_document("client-kb", "a")
        with pytest.raises(GatewayClientError) as missing:
            await client.get_document("client-kb", "a")
        assert missing.value.status_code == 404
        assert [k.name for k in await client.list_knowledge_bases()] == ["client-kb"]
        await client.delete_knowledge_base("client-kb")


@pytest.fixture
async def running(tmp_path: Path, admin_key: str) -> AsyncIterator[object]:
    app = create_app(retrieval_settings(tmp_path / "data", admin_key), SERVICES)
    async with app.router.lifespan_context(app):
        yield app


async def test_the_tool_searches_in_process_as_the_user(running: object, admin_key: str) -> None:
    state = running.state.platform  # type: ignore[attr-defined]
    user = await state.authenticator.authenticate(admin_key)
    async with retrieval_client_for(state, user) as client:
        await client.create_knowledge_base("faq")
        await client.create_knowledge_base("policies")
        await client.add_documents(
            "faq", [{"id": "vpn", "text": "Connect to the VPN before opening the wiki."}]
        )
        await client.add_documents(
            "policies",
            [
                {
                    "id": "travel",
                    "text": "Book travel through the portal.",
                    "metadata": {"dept": "finance"},
                }
            ],
        )
        tool = KnowledgeBaseSearchTool(client, ["faq", "policies"], top_k=3)
        definition = tool.definition()
        assert definition["function"]["name"] == "search_knowledge_base"
        assert definition["function"]["parameters"]["required"] == ["query"]
        assert definition["function"]["parameters"]["properties"]["knowledge_base"]["enum"] == [
            "faq",
            "policies",
        ]
        answer = json.loads(await tool(query="how do I book travel", top_k=2))
        assert answer["results"][0]["document_id"] == "travel"
        assert answer["results"][0]["text"] == "Book travel through the portal."
        only_faq = json.loads(await tool(query="travel", knowledge_base="faq"))
        assert {hit["document_id"] for hit in only_faq["results"]} == {"vpn"}
        filtered = json.loads(
            await tool(query="travel", filter={"field": "dept", "op": "eq", "value": "finance"})
        )
        assert [hit["document_id"] for hit in filtered["results"]] == ["travel"]
        assert "error" in json.loads(await tool(query="x", knowledge_base="secret"))
