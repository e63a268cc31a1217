"""The legacy completions API and the model list/retrieve routes, with the official OpenAI
SDK: a prompt or several, stop, streaming, and a key that may use only some models."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest
from openai import AsyncOpenAI


@pytest.fixture
def client(platform_url: str, admin_key: str) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=f"{platform_url}/llm/v1", api_key=admin_key, max_retries=0)


async def admin(platform_url: str, admin_key: str, method: str, path: str, **kw: Any) -> Any:
    headers = {"Authorization": f"Bearer {admin_key}"}
    async with httpx.AsyncClient(base_url=f"{platform_url}/admin/v1", headers=headers) as http:
        answer = await http.request(method, path, **kw)
    assert answer.status_code < 300, answer.text
    return answer.json()


async def test_a_prompt_is_completed(client: AsyncOpenAI) -> None:
    completion = await client.completions.create(
        model="echo", prompt="one two three four", max_tokens=3, temperature=0
    )
    assert completion.object == "text_completion"
    assert completion.model == "echo"
    (choice,) = completion.choices
    assert choice.text == "one two three"
    assert choice.finish_reason == "length"
    assert completion.usage is not None and completion.usage.completion_tokens == 3


async def test_several_prompts_give_a_choice_each(client: AsyncOpenAI) -> None:
    completion = await client.completions.create(model="echo", prompt=["alpha", "beta gamma"])
    assert [(c.index, c.text) for c in completion.choices] == [(0, "alpha"), (1, "beta gamma")]
    assert completion.usage is not None and completion.usage.completion_tokens == 3


async def test_streamed_completion_with_usage(client: AsyncOpenAI) -> None:
    stream = await client.completions.create(
        model="echo",
        prompt="stream me please",
        stream=True,
        stream_options={"include_usage": True},
    )
    text, finish, usage = "", None, None
    async for chunk in stream:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            text += choice.text
            finish = choice.finish_reason or finish
    assert text == "stream me please"
    assert finish == "stop"
    assert usage is not None and usage.completion_tokens == 3


async def test_what_completions_cannot_do_is_a_clear_400(client: AsyncOpenAI) -> None:
    refused = {
        "echo": {"prompt": "hi", "echo": True},
        "token ids": {"prompt": [1, 2, 3]},
        "several streamed": {"prompt": ["a", "b"], "stream": True},
        "suffix": {"prompt": "hi", "suffix": "!"},
    }
    for case, extra in refused.items():
        with pytest.raises(openai.BadRequestError) as caught:
            await client.completions.create(model="echo", **extra)
        assert caught.value.body is not None, case
    with pytest.raises(openai.BadRequestError) as caught:
        await client.completions.create(model="echo", prompt=[1, 2])
    assert "send the prompt as text" in caught.value.message


async def test_models_are_retrieved_and_unknown_ones_are_404(client: AsyncOpenAI) -> None:
    card = await client.models.retrieve("weather-bot")
    assert card.id == "weather-bot" and card.object == "model"
    with pytest.raises(openai.NotFoundError) as caught:
        await client.models.retrieve("no-such-model")
    assert caught.value.code == "model_not_found"
    assert caught.value.body["type"] == "invalid_request_error"  # type: ignore[index]


async def test_an_allowlisted_key_sees_only_its_models(
    platform_url: str, admin_key: str, client: AsyncOpenAI
) -> None:
    everything = {card.id async for card in client.models.list()}
    assert {"echo", "weather-bot", "text-only", "test-embed"} <= everything
    issued = await admin(
        platform_url, admin_key, "POST", "/keys", json={"allowed_models": ["echo", "test-*"]}
    )
    narrow = AsyncOpenAI(base_url=f"{platform_url}/llm/v1", api_key=issued["secret"], max_retries=0)
    listed = {card.id async for card in narrow.models.list()}
    assert listed == {"echo", "test-embed"}
    assert (await narrow.models.retrieve("echo")).id == "echo"
    with pytest.raises(openai.NotFoundError):
        await narrow.models.retrieve("weather-bot")


async def test_a_plan_narrows_the_list_too(platform_url: str, admin_key: str) -> None:
    plan = await admin(
        platform_url,
        admin_key,
        "POST",
        "/plans",
        json={"name": "echo-only", "allowed_models": ["echo"]},
    )
    issued = await admin(platform_url, admin_key, "POST", "/keys", json={"plan_id": plan["id"]})
    narrow = AsyncOpenAI(base_url=f"{platform_url}/llm/v1", api_key=issued["secret"], max_retries=0)
    listed = [card.id async for card in narrow.models.list()]
    # Agents stay: a plan governs the model calls an agent makes, not the agent itself.
    assert [model for model in listed if not model.startswith("agent:")] == ["echo"]
    assert any(model.startswith("agent:") for model in listed)
    with pytest.raises(openai.NotFoundError):
        await narrow.models.retrieve("text-only")
