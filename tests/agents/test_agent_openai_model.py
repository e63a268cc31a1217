"""Every agent is a model of the OpenAI-compatible API (``agent:<name>``), driven here with
the official OpenAI SDK over a real loopback server, streamed and not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from agents_harness import agent_settings

from agentic_platform.app import create_app
from agentic_platform.settings import Settings
from agentic_platform.testing.server import serve_in_thread


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, admin_key: str
) -> Iterator[tuple[str, str, Settings]]:
    """(base URL, a member's key, the settings) of a platform on loopback."""
    data = tmp_path_factory.mktemp("agents-sdk")
    settings = agent_settings(data, admin_key, f"sqlite+aiosqlite:///{Path(data) / 'p.db'}")
    with serve_in_thread(create_app(settings)) as url:
        admin = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin_key}"})
        with admin:
            principal = admin.post("/admin/v1/principals", json={"name": "dora"}).json()
            key = admin.post("/admin/v1/keys", json={"principal_id": principal["id"]}).json()
        yield url, key["secret"], settings


@pytest.fixture
def client(served: tuple[str, str, Settings]) -> Iterator[openai.OpenAI]:
    url, key, _ = served
    with openai.OpenAI(base_url=f"{url}/llm/v1", api_key=key, max_retries=0) as sdk:
        yield sdk


def test_agents_are_listed_as_models(client: openai.OpenAI) -> None:
    ids = [model.id for model in client.models.list()]
    assert "agent:diy-agent" in ids and "calc-bot" in ids


def test_an_agent_answers_a_chat_completion(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="agent:diy-agent", messages=[{"role": "user", "content": "6 * 7"}]
    )
    assert reply.model == "agent:diy-agent"
    assert reply.choices[0].message.content == "The answer is 42."
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None and reply.usage.total_tokens > 0
    extra = reply.model_extra or {}
    assert extra["run_id"] and extra["session_id"]
    again = client.chat.completions.create(
        model="agent:diy-agent",
        messages=[{"role": "user", "content": "7 * 8"}],
        extra_body={"session_id": extra["session_id"]},
    )
    assert (again.model_extra or {})["session_id"] == extra["session_id"]
    assert again.choices[0].message.content == "The answer is 56."


def test_an_agent_streams_a_chat_completion(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="agent:diy-agent",
        messages=[{"role": "user", "content": "100 - 1"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "The answer is 99."
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens > 0


def test_an_unknown_agent_is_a_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        client.chat.completions.create(
            model="agent:nobody", messages=[{"role": "user", "content": "hi"}]
        )
    assert raised.value.code == "agent_not_found"
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(
            model="agent:nobody", messages=[{"role": "user", "content": "hi"}], stream=True
        )


def test_a_request_without_a_user_message_is_a_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(
            model="agent:diy-agent", messages=[{"role": "system", "content": "be brief"}]
        )
    assert raised.value.param == "messages"


def test_a_run_failing_midstream_is_an_sdk_error(
    client: openai.OpenAI, served: tuple[str, str, Settings]
) -> None:
    models = served[2].agents.agent_models
    models["diy-agent"] = "loop-bot"
    try:
        stream = client.chat.completions.create(
            model="agent:diy-agent", messages=[{"role": "user", "content": "loop"}], stream=True
        )
        with pytest.raises(openai.APIError, match=r"agents\.max_steps is 10"):
            list(stream)
    finally:
        del models["diy-agent"]


@pytest.mark.parametrize("agent", ["pydanticai-agent", "langgraph-chat"])
def test_the_framework_agents_are_models_too(client: openai.OpenAI, agent: str) -> None:
    assert f"agent:{agent}" in [model.id for model in client.models.list()]
    reply = client.chat.completions.create(
        model=f"agent:{agent}", messages=[{"role": "user", "content": "6 * 7"}]
    )
    assert reply.choices[0].message.content == "The answer is 42."
    stream = client.chat.completions.create(
        model=f"agent:{agent}",
        messages=[{"role": "user", "content": "7 * 8"}],
        extra_body={"session_id": (reply.model_extra or {})["session_id"]},
        stream=True,
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "The answer is 56."
