"""Bad input gets a 4xx in the OpenAI error format, with a message that says what to fix."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

CHAT = "/llm/v1/chat/completions"
HELLO = [{"role": "user", "content": "hi"}]


@pytest.fixture
async def http(platform_url: str, admin_key: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=platform_url, headers={"Authorization": f"Bearer {admin_key}"}
    ) as client:
        yield client


def assert_openai_error(response: httpx.Response, status: int, *needles: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    for needle in needles:
        assert needle in error["message"]
    assert "Traceback" not in response.text
    return error  # type: ignore[no-any-return]


async def test_malformed_json(http: httpx.AsyncClient) -> None:
    response = await http.post(CHAT, content=b'{"model": "echo", "messages": [')
    error = assert_openai_error(response, 400, "not valid JSON")
    assert error["code"] == "invalid_json"


async def test_empty_body(http: httpx.AsyncClient) -> None:
    assert_openai_error(await http.post(CHAT, content=b""), 400, "empty")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "echo", "messages": "hi"}, "messages"),
        ({"model": "echo", "messages": []}, "messages"),
        ({"model": "echo"}, "messages"),
        ({"messages": HELLO}, "model"),
        ({"model": "echo", "messages": HELLO, "temperature": "hot"}, "temperature"),
        ({"model": "echo", "messages": HELLO, "temperature": 3}, "temperature"),
        ({"model": "echo", "messages": HELLO, "max_tokens": 0}, "max_tokens"),
        ({"model": "echo", "messages": HELLO, "n": 2}, "n"),
        ({"model": "echo", "messages": [{"role": "wizard", "content": "x"}]}, "messages.0"),
        ({"model": "echo", "messages": [{"role": "tool", "content": "x"}]}, "messages.0.tool"),
        (
            {"model": "echo", "messages": HELLO, "tool_choice": "required"},
            None,
        ),
        (
            {"model": "echo", "messages": HELLO, "response_format": {"type": "xml"}},
            "response_format.type",
        ),
    ],
)
async def test_wrong_types_name_the_field(
    http: httpx.AsyncClient, body: dict[str, object], param: str | None
) -> None:
    error = assert_openai_error(await http.post(CHAT, json=body), 400)
    assert error["type"] == "invalid_request_error"
    if param is not None:
        assert str(error["param"]).startswith(param)
        assert param.split(".")[0] in str(error["message"])


async def test_unknown_model(http: httpx.AsyncClient) -> None:
    response = await http.post(CHAT, json={"model": "gpt-99", "messages": HELLO})
    error = assert_openai_error(response, 404, "gpt-99", "Known models")
    assert error["code"] == "model_not_found"


async def test_embedding_model_on_chat_endpoint(http: httpx.AsyncClient) -> None:
    response = await http.post(CHAT, json={"model": "test-embed", "messages": HELLO})
    assert_openai_error(response, 404, "embedding model")


async def test_feature_the_model_lacks(http: httpx.AsyncClient) -> None:
    tools = [{"type": "function", "function": {"name": "f"}}]
    response = await http.post(CHAT, json={"model": "text-only", "messages": HELLO, "tools": tools})
    assert_openai_error(response, 400, "does not support", "tools")


async def test_oversized_body(http: httpx.AsyncClient) -> None:
    big = "x" * (128 * 1024)
    response = await http.post(
        CHAT, json={"model": "echo", "messages": [{"role": "user", "content": big}]}
    )
    error = assert_openai_error(response, 413, "larger than the limit")
    assert error["code"] == "payload_too_large"


async def test_oversized_chunked_body(http: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b"x" * 1024

    response = await http.post(CHAT, content=chunks())
    assert_openai_error(response, 413, "larger than the limit")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic YWxhZGRpbjpvcGVuc2VzYW1l"},
        {"Authorization": "Bearer not-a-platform-key"},
        {"Authorization": "Bearer agp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
    ],
)
async def test_missing_or_invalid_key(platform_url: str, headers: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=platform_url) as anonymous:
        for response in (
            await anonymous.post(CHAT, json={"model": "echo", "messages": HELLO}, headers=headers),
            await anonymous.get("/llm/v1/models", headers=headers),
            await anonymous.post(
                "/llm/v1/embeddings", json={"model": "test-embed", "input": "x"}, headers=headers
            ),
        ):
            error = assert_openai_error(response, 401)
            assert error["type"] == "authentication_error"


async def test_bad_embedding_input(http: httpx.AsyncClient) -> None:
    for body, needle in [
        ({"model": "test-embed", "input": []}, "at least one"),
        ({"model": "test-embed", "input": [""]}, "empty"),
        ({"model": "test-embed", "input": 42}, "input"),
        ({"model": "test-embed", "input": "x", "dimensions": 3}, "dimensions"),
        ({"model": "test-embed", "input": "x", "encoding_format": "hex"}, "encoding_format"),
    ]:
        response = await http.post("/llm/v1/embeddings", json=body)
        assert_openai_error(response, 400, needle)


async def test_unknown_route_is_json_404(http: httpx.AsyncClient) -> None:
    assert_openai_error(await http.get("/llm/v1/nothing-here"), 404)


async def test_every_response_has_a_unique_request_id(http: httpx.AsyncClient) -> None:
    first = await http.get("/llm/v1/models", headers={"X-Request-ID": "trace-me-123"})
    second = await http.get("/llm/v1/models", headers={"X-Request-ID": "trace-me-123"})
    ids = {first.headers["x-request-id"], second.headers["x-request-id"]}
    assert len(ids) == 2
    assert all(len(request_id) == 32 for request_id in ids)


HUGE = "1" + "0" * 400


def raw_body(base: dict[str, object], **numbers: str) -> str:
    """``base`` as JSON with fields whose values are written verbatim (numbers Python's
    json module would not write)."""
    verbatim = "".join(f', "{name}": {value}' for name, value in numbers.items())
    return json.dumps(base)[:-1] + verbatim + "}"


@pytest.mark.parametrize(
    ("field", "value", "param"),
    [
        ("max_tokens", HUGE, "max_tokens"),
        ("max_tokens", "1" + "0" * 30, "max_tokens"),
        ("max_tokens", str(2**31), "max_tokens"),
        ("max_tokens", "-5", "max_tokens"),
        ("max_completion_tokens", HUGE, "max_completion_tokens"),
        ("seed", str(2**64), "seed"),
        ("top_logprobs", "21", "top_logprobs"),
        ("top_logprobs", "-1", "top_logprobs"),
        ("temperature", "NaN", "temperature"),
        ("top_p", "Infinity", "top_p"),
        ("presence_penalty", "-Infinity", "presence_penalty"),
        ("frequency_penalty", "1e400", "frequency_penalty"),
        ("n", HUGE, "n"),
        ("some_new_option", HUGE, None),  # forwarded untouched: still refused
        ("some_new_option", '{"deep": [1, -' + HUGE + "]}", None),
    ],
)
async def test_numbers_out_of_range_are_a_400(
    http: httpx.AsyncClient, field: str, value: str, param: str | None
) -> None:
    body = raw_body({"model": "echo", "messages": HELLO}, **{field: value})
    error = assert_openai_error(await http.post(CHAT, content=body), 400)
    assert error["type"] == "invalid_request_error"
    if param is not None:
        assert error["param"] == param
        assert param in str(error["message"])
    else:
        assert error["code"] == "number_out_of_range"
        assert "must lie between" in str(error["message"]) and len(str(error["message"])) < 300


async def test_a_huge_number_in_a_tool_schema_is_a_400(http: httpx.AsyncClient) -> None:
    schema = '{"type": "integer", "maximum": ' + HUGE + "}"
    tool = '{"type": "function", "function": {"name": "f", "parameters": ' + schema + "}}"
    body = raw_body({"model": "echo", "messages": HELLO}, tools=f"[{tool}]")
    error = assert_openai_error(await http.post(CHAT, content=body), 400, "cannot be used")
    assert error["code"] == "number_out_of_range"


async def test_text_that_looks_like_a_big_number_is_fine(http: httpx.AsyncClient) -> None:
    text = "call 12345678901234567890123 about NaN and Infinity, 1e400"
    response = await http.post(
        CHAT, json={"model": "echo", "messages": [{"role": "user", "content": text}], "seed": -1}
    )
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == text


async def test_embedding_numbers_out_of_range(http: httpx.AsyncClient) -> None:
    for body in (
        raw_body({"model": "test-embed", "input": "x"}, dimensions=HUGE),
        raw_body({"model": "test-embed", "input": "x"}, dimensions="100000"),
        raw_body({"model": "test-embed", "input": "x"}, extra=HUGE),
    ):
        response = await http.post("/llm/v1/embeddings", content=body)
        assert_openai_error(response, 400)


async def test_the_openapi_schema_shows_the_bounds(http: httpx.AsyncClient) -> None:
    schema = (await http.get("/openapi.json")).json()
    body = schema["paths"]["/llm/v1/chat/completions"]["post"]["requestBody"]
    reference = body["content"]["application/json"]["schema"]["$ref"]
    assert reference == "#/components/schemas/ChatCompletionRequest"
    fields = schema["components"]["schemas"]["ChatCompletionRequest"]["properties"]
    assert fields["max_tokens"]["anyOf"][0]["maximum"] == 1_000_000
    assert fields["seed"]["anyOf"][0]["maximum"] == pytest.approx(2**63)
    assert fields["top_logprobs"]["anyOf"][0]["maximum"] == 20
