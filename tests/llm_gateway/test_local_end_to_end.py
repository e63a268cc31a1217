"""The embedded defaults end to end: the platform with its default catalog, the official
OpenAI SDK, and the real packaged model and embedder."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from openai import AsyncOpenAI
from pydantic import SecretStr
from typer.testing import CliRunner

from agentic_platform.app import create_app
from agentic_platform.cli import app
from agentic_platform.settings import AuthSettings, Settings
from agentic_platform.testing.server import serve_in_thread

pytestmark = pytest.mark.local_model


@pytest.fixture(scope="module")
def default_platform(tmp_path_factory: pytest.TempPathFactory, admin_key: str) -> Iterator[str]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("embedded") / "data",
        auth=AuthSettings(bootstrap_admin_key=SecretStr(admin_key)),
        log_requests=False,
    )
    assert [m.alias for m in settings.models] == ["smollm2-135m", "minilm-l6"]
    with serve_in_thread(create_app(settings)) as url:
        yield url


async def test_streamed_answer_from_the_local_model(default_platform: str, admin_key: str) -> None:
    client = AsyncOpenAI(base_url=f"{default_platform}/llm/v1", api_key=admin_key)
    stream = await client.chat.completions.create(
        model="smollm2-135m",
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        max_tokens=16,
        stream=True,
        stream_options={"include_usage": True},
    )
    text, usage = "", None
    async for chunk in stream:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
    assert text.strip()
    assert usage is not None
    assert 0 < usage.completion_tokens <= 16
    assert usage.prompt_tokens > 5


async def test_the_first_question_a_new_user_asks_is_answered_right(
    default_platform: str, admin_key: str
) -> None:
    """No system message: the packaged model's default one makes the answer right, on nine
    seeds of ten at least (the model is small: ``local_request.DEFAULT_SYSTEM_PROMPT``)."""
    client = AsyncOpenAI(base_url=f"{default_platform}/llm/v1", api_key=admin_key)
    answers = []
    for seed in range(10):
        completion = await client.chat.completions.create(
            model="smollm2-135m",
            messages=[{"role": "user", "content": "What is the capital of France?"}],
            max_tokens=48,
            seed=seed,
        )
        answers.append(completion.choices[0].message.content or "")
    assert sum("Paris" in answer for answer in answers) >= 9, answers


def test_agentic_chat_answers_the_capital_of_france(
    default_platform: str, admin_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTIC_API_KEY", admin_key)
    question = "What is the capital of France?"
    result = CliRunner().invoke(app, ["chat", question, "--seed", "7", "--url", default_platform])
    assert result.exit_code == 0, result.output
    assert "Paris" in result.output


async def test_local_embeddings(default_platform: str, admin_key: str) -> None:
    client = AsyncOpenAI(base_url=f"{default_platform}/llm/v1", api_key=admin_key)
    result = await client.embeddings.create(
        model="minilm-l6", input=["a cat sat on the mat", "a kitten rested on the rug", "tax law"]
    )
    cat, kitten, tax = (item.embedding for item in result.data)

    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert len(cat) == 384
    assert cosine(cat, kitten) > cosine(cat, tax)


@pytest.mark.parametrize(
    "extra",
    [
        {"max_tokens": 1_000_000},  # above the context: cut to it, not a 5xx or a wrapped int
        {"max_tokens": 8, "seed": 2**63 - 1},
        {"max_tokens": 8, "seed": -1},
    ],
)
async def test_large_but_valid_numbers_reach_the_local_model(
    default_platform: str, admin_key: str, extra: dict[str, int]
) -> None:
    async with httpx.AsyncClient(
        base_url=default_platform, headers={"Authorization": f"Bearer {admin_key}"}, timeout=120
    ) as http:
        response = await http.post(
            "/llm/v1/chat/completions",
            json={"model": "smollm2-135m", "messages": [{"role": "user", "content": "Hi"}]} | extra,
        )
    assert response.status_code == 200, response.text
    assert response.json()["usage"]["completion_tokens"] <= 8192


@pytest.mark.parametrize(
    ("field", "value"), [("top_k", 2**40), ("top_k", "many"), ("min_p", 2), ("repeat_penalty", -1)]
)
async def test_llama_options_out_of_range_are_a_400(
    default_platform: str, admin_key: str, field: str, value: object
) -> None:
    async with httpx.AsyncClient(
        base_url=default_platform, headers={"Authorization": f"Bearer {admin_key}"}
    ) as http:
        response = await http.post(
            "/llm/v1/chat/completions",
            json={"model": "smollm2-135m", "messages": [{"role": "user", "content": "Hi"}]}
            | {field: value},
        )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == field and field in error["message"]


async def test_a_stream_cut_short_is_settled_with_the_models_own_count(
    default_platform: str, admin_key: str
) -> None:
    question = [{"role": "user", "content": "Write a long story about a dragon."}]
    client = AsyncOpenAI(base_url=f"{default_platform}/llm/v1", api_key=admin_key)
    whole = await client.chat.completions.create(
        model="smollm2-135m",
        messages=question,
        max_tokens=4,  # type: ignore[arg-type]
    )
    assert whole.usage is not None
    async with httpx.AsyncClient(
        base_url=default_platform, headers={"Authorization": f"Bearer {admin_key}"}, timeout=60
    ) as http:
        body = {"model": "smollm2-135m", "messages": question, "max_tokens": 200, "stream": True}
        async with http.stream("POST", "/llm/v1/chat/completions", json=body) as response:
            words = 0
            async for line in response.aiter_lines():
                words += '"content":"' in line and '"content":""' not in line
                if words == 3:
                    break  # hang up
        for _ in range(100):
            records = (await http.get("/admin/v1/usage/records")).json()["records"]
            cut = [r for r in records if r["status"] == 499]
            if cut:
                break
            await asyncio.sleep(0.1)
    (row,) = cut
    # The prompt as the model read it (its chat template included), not a character count.
    assert row["input_tokens"] == whole.usage.prompt_tokens
    assert 3 <= row["output_tokens"] < 200
