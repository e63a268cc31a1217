"""The Anthropic SDK against the embedded defaults: the platform's default catalog and the
real packaged model, over the Messages API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from anthropic import AsyncAnthropic
from pydantic import SecretStr

from agentic_platform.app import create_app
from agentic_platform.settings import AuthSettings, Settings
from agentic_platform.testing.server import serve_in_thread

pytestmark = pytest.mark.local_model

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
SYSTEM = "Answer in one short sentence."


@pytest.fixture(scope="module")
def default_platform(tmp_path_factory: pytest.TempPathFactory, admin_key: str) -> Iterator[str]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("embedded-messages") / "data",
        auth=AuthSettings(bootstrap_admin_key=SecretStr(admin_key)),
        log_requests=False,
    )
    with serve_in_thread(create_app(settings)) as url:
        yield url


@pytest.fixture
def sdk(default_platform: str, admin_key: str) -> AsyncAnthropic:
    return AsyncAnthropic(base_url=f"{default_platform}/llm", api_key=admin_key, max_retries=0)


async def test_count_tokens_is_what_the_local_model_then_uses(sdk: AsyncAnthropic) -> None:
    counted = await sdk.messages.count_tokens(
        model="smollm2-135m",
        system=SYSTEM,
        messages=QUESTION,  # type: ignore[arg-type]
    )
    message = await sdk.messages.create(
        model="smollm2-135m",
        max_tokens=16,
        system=SYSTEM,
        messages=QUESTION,  # type: ignore[arg-type]
    )
    used = message.usage.input_tokens + (message.usage.cache_read_input_tokens or 0)
    assert counted.input_tokens == used
    assert message.content and message.content[0].type == "text"
    assert message.content[0].text.strip()
    assert 0 < message.usage.output_tokens <= 16


async def test_streamed_answer_from_the_local_model(sdk: AsyncAnthropic) -> None:
    async with sdk.messages.stream(
        model="smollm2-135m",
        max_tokens=16,
        system=SYSTEM,
        messages=QUESTION,  # type: ignore[arg-type]
    ) as stream:
        text = "".join([piece async for piece in stream.text_stream])
        final = await stream.get_final_message()
    assert text.strip()
    assert final.content[0].text == text  # type: ignore[union-attr]
    assert final.stop_reason in ("end_turn", "max_tokens")
    assert final.usage.input_tokens + (final.usage.cache_read_input_tokens or 0) > 10
    assert 0 < final.usage.output_tokens <= 16
