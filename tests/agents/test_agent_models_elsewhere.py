"""``agent:<name>`` models when the agents service runs in another process (one Deployment per
service): the gateway lists the agents that service serves and runs them there, as the caller."""

from __future__ import annotations

from pathlib import Path

import httpx
import openai
import pytest
from agents_harness import agent_settings
from pydantic import SecretStr

from agentic_platform.agents import as_model
from agentic_platform.app import create_app
from agentic_platform.auth.keys import new_key_secret
from agentic_platform.testing.server import serve_in_thread
from agentic_platform.testing.upstream import closed_port_url


def test_the_gateway_lists_and_runs_the_agents_served_elsewhere(
    tmp_path: Path, admin_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(as_model, "_listed", {})
    database = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    service_key = SecretStr(new_key_secret())
    agents = agent_settings(tmp_path / "agents", admin_key, database)
    agents.auth.service_key = service_key
    with serve_in_thread(create_app(agents)) as agents_url:
        front = agent_settings(tmp_path / "front", admin_key, database)
        front.auth.service_key = service_key
        front.services = ["llm-gateway"]
        front.service_urls = {"agents": agents_url}
        with serve_in_thread(create_app(front)) as front_url:
            admin = {"Authorization": f"Bearer {admin_key}"}
            with httpx.Client(base_url=front_url, headers=admin) as http:
                user = http.post("/admin/v1/principals", json={"name": "ivy"}).json()
                key = http.post("/admin/v1/keys", json={"principal_id": user["id"]}).json()
            sdk = openai.OpenAI(base_url=f"{front_url}/llm/v1", api_key=key["secret"])
            with sdk:
                ids = [model.id for model in sdk.models.list()]
                reply = sdk.chat.completions.create(
                    model="agent:diy-agent", messages=[{"role": "user", "content": "6 * 7"}]
                )
            with httpx.Client(base_url=agents_url, headers=admin) as http:
                runs = http.get("/agents/v1/runs", params={"user_id": user["id"]}).json()
    assert "agent:diy-agent" in ids and "agent:prompt-chaining" in ids
    assert reply.choices[0].message.content == "The answer is 42."
    [run] = runs["data"]
    assert run["user_id"] == user["id"] and run["status"] == "succeeded"


def test_a_gateway_whose_agents_service_is_down_still_lists_its_models(
    tmp_path: Path, admin_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(as_model, "_listed", {})
    front = agent_settings(tmp_path, admin_key, f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")
    front.services = ["llm-gateway"]
    front.service_urls = {"agents": closed_port_url()}
    with serve_in_thread(create_app(front)) as url:
        listed = httpx.get(f"{url}/llm/v1/models", headers={"Authorization": f"Bearer {admin_key}"})
    assert listed.status_code == 200, listed.text
    ids = [model["id"] for model in listed.json()["data"]]
    assert "calc-bot" in ids and not any(i.startswith("agent:") for i in ids)
