"""Embedding input given as token ids: refused by a provider that tokenizes itself with a
message that says what to change, and any other wrong input shape named plainly."""

from __future__ import annotations

import httpx
import openai
import pytest
from openai import AsyncOpenAI


@pytest.fixture
def client(platform_url: str, admin_key: str) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=f"{platform_url}/llm/v1", api_key=admin_key, max_retries=0)


@pytest.mark.parametrize("tokens", [[1, 2, 3], [[1, 2], [3]]])
async def test_token_ids_to_a_text_embedder_say_what_to_set(
    client: AsyncOpenAI, tokens: list[int] | list[list[int]]
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.embeddings.create(model="test-embed", input=tokens)
    assert caught.value.code == "token_input_not_supported"
    assert caught.value.param == "input"
    assert "check_embedding_ctx_length=False" in caught.value.message


async def test_wrong_input_shapes_get_one_plain_message(platform_url: str, admin_key: str) -> None:
    headers = {"Authorization": f"Bearer {admin_key}"}
    async with httpx.AsyncClient(base_url=f"{platform_url}/llm/v1", headers=headers) as http:
        for wrong in ([], [1, "a"], [[]], [[1, -2]], 7, [True], [{"x": 1}], [""]):
            answer = await http.post("/embeddings", json={"model": "test-embed", "input": wrong})
            assert answer.status_code == 400, wrong
            message = answer.json()["error"]["message"]
            assert "input must" in message, (wrong, message)
            # not one error per member of a union ("Input should be a valid string", ...)
            assert "should be" not in message and "list[" not in message, message
