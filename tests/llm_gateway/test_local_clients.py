"""The newer client APIs on the packaged model and embedder: a Responses call on the local
model, and LangChain's OpenAIEmbeddings on the local embedder, which sends token ids unless
told not to."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest
import tiktoken
import tiktoken.registry
from langchain_openai import OpenAIEmbeddings
from openai import AsyncOpenAI
from pydantic import SecretStr

from agentic_platform.app import create_app
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
    with serve_in_thread(create_app(settings)) as url:
        yield url


@pytest.fixture
def offline_tokenizer() -> Iterator[None]:
    """tiktoken downloads its ``cl100k_base`` file on first use, which an offline machine
    cannot: a byte-level encoding under that name stands in for it, so LangChain still
    tokenizes and sends token ids as it would."""
    ranks = {bytes([value]): value for value in range(256)}
    stand_in = tiktoken.Encoding(
        name="cl100k_base", pat_str=r"\S+|\s+", mergeable_ranks=ranks, special_tokens={}
    )
    saved = tiktoken.registry.ENCODINGS.get("cl100k_base")
    tiktoken.registry.ENCODINGS["cl100k_base"] = stand_in
    yield
    if saved is None:
        del tiktoken.registry.ENCODINGS["cl100k_base"]
    else:
        tiktoken.registry.ENCODINGS["cl100k_base"] = saved


async def test_a_response_from_the_local_model(default_platform: str, admin_key: str) -> None:
    client = AsyncOpenAI(base_url=f"{default_platform}/llm/v1", api_key=admin_key)
    response = await client.responses.create(
        model="smollm2-135m",
        instructions="Answer in one sentence.",
        input="What is the capital of France?",
        max_output_tokens=16,
    )
    assert response.output_text.strip()
    assert response.usage is not None
    assert 0 < response.usage.output_tokens <= 16
    assert response.usage.input_tokens > 5


@pytest.mark.usefixtures("offline_tokenizer")
async def test_langchain_embeddings_with_default_settings(
    default_platform: str, admin_key: str
) -> None:
    defaults = OpenAIEmbeddings(
        model="minilm-l6",
        base_url=f"{default_platform}/llm/v1",
        api_key=SecretStr(admin_key),
        max_retries=0,
    )
    with pytest.raises(openai.BadRequestError) as caught:
        await defaults.aembed_query("a cat sat on the mat")
    assert caught.value.code == "token_input_not_supported"
    assert "check_embedding_ctx_length=False" in caught.value.message
    as_text = OpenAIEmbeddings(
        model="minilm-l6",
        base_url=f"{default_platform}/llm/v1",
        api_key=SecretStr(admin_key),
        check_embedding_ctx_length=False,
    )
    cat, kitten, tax = await as_text.aembed_documents(
        ["a cat sat on the mat", "a kitten rested on the rug", "tax law"]
    )

    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert len(cat) == 384
    assert cosine(cat, kitten) > cosine(cat, tax)
