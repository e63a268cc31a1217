"""The typed client and the agent tools, against the platform on a real loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from memory_harness import memory_settings

from agentic_platform.app import create_app
from agentic_platform.memory.client import MemoryClient, MemoryClientError
from agentic_platform.memory.tools import memory_tools
from agentic_platform.testing.server import serve_in_thread


@pytest.fixture(scope="module")
def served(
    memory_backend: tuple[str, str | None], tmp_path_factory: pytest.TempPathFactory, admin_key: str
) -> Iterator[str]:
    settings = memory_settings(tmp_path_factory.mktemp("served"), admin_key, memory_backend)
    with serve_in_thread(create_app(settings)) as url:
        yield url


@pytest.fixture
def user_key(served: str, admin_key: str) -> str:
    with httpx.Client(base_url=served, headers={"Authorization": f"Bearer {admin_key}"}) as http:
        principal = http.post("/admin/v1/principals", json={"name": "tool-user"}).json()
        return str(
            http.post("/admin/v1/keys", json={"principal_id": principal["id"]}).json()["secret"]
        )


async def test_the_client_covers_sessions_and_memories(served: str, user_key: str) -> None:
    async with MemoryClient(served, user_key) as memory:
        session = await memory.create_session("travel-agent", {"trip": "Lisbon"})
        first = await memory.append(session.id, "user", "I want a hotel near the river.", name="Mo")
        await memory.append(session.id, "assistant", "Noted: riverside hotels.")
        assert first.position == 1
        last = await memory.messages(session.id, last=1)
        assert [m.content for m in last.data] == ["Noted: riverside hotels."]
        assert (await memory.list_sessions(agent_id="travel-agent")).data[0].id == session.id
        status = await memory.extraction(session.id)
        assert status.status == "disabled" and status.last_position == 2
        made = await memory.remember(
            "Mo likes riverside hotels", type="preference", source_message_ids=[first.id]
        )
        assert (await memory.get_memory(made.id)).sources[0].content == first.content
        changed = await memory.update_memory(made.id, text="Mo likes quiet riverside hotels")
        assert changed.text == "Mo likes quiet riverside hotels"
        [hit] = await memory.search(
            "quiet hotels", filter={"field": "type", "op": "eq", "value": "preference"}
        )
        assert hit.id == made.id and hit.sources[0].message_id == first.id
        assert (await memory.list_memories(type="preference")).data[0].id == made.id
        await memory.delete_memory(made.id)
        await memory.delete_session(session.id)
        with pytest.raises(MemoryClientError) as missing:
            await memory.get_session(session.id)
        assert missing.value.status_code == 404 and missing.value.code == "session_not_found"


async def test_recall_and_remember_tools(served: str, user_key: str) -> None:
    async with MemoryClient(served, user_key) as memory:
        recall, remember = memory_tools(memory, agent_id="assistant")
        assert recall.definition()["function"]["name"] == "recall"
        assert remember.definition()["function"]["parameters"]["required"] == ["text"]
        stored = orjson.loads(
            await remember.call({"text": "The user is training for a 10k race", "type": "event"})
        )
        assert stored == {"remembered": "The user is training for a 10k race", "type": "event"}
        found = orjson.loads(await recall.call({"query": "running race", "top_k": 3}))
        assert found[0]["memory"] == "The user is training for a 10k race"
        assert found[0]["type"] == "event"
        [listed] = (await memory.list_memories()).data
        assert listed.agent_id == "assistant" and listed.origin == "direct"


def test_tool_schemas_are_valid_json_schema(tmp_path: Path) -> None:
    recall, remember = memory_tools(MemoryClient("http://unused", "key"))
    for tool in (recall, remember):
        schema = tool.definition()["function"]["parameters"]
        assert schema["type"] == "object" and schema["additionalProperties"] is False
