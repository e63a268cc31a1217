"""``/llm/v1/rerank`` over real HTTP: a Cohere-compatible upstream on loopback, the scripted
reranker, metering of the caller, and what a bad request gets."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from agentic_platform.app import create_app
from agentic_platform.llm_gateway.catalog import Deployment, ModelEntry
from agentic_platform.settings import Settings
from agentic_platform.testing.server import serve_in_thread
from agentic_platform.testing.upstream import FakeUpstream

DOCUMENTS = ["Shipping takes three days.", "The warranty lasts two years.", "Returns are free."]


def _rerank_entries(upstream_url: str) -> list[ModelEntry]:
    return [
        ModelEntry(
            alias="cohere-rerank",
            kind="rerank",
            capabilities={"rerank"},
            deployments=[
                Deployment(
                    provider="cohere",
                    model="rerank-v3.5",
                    api_base=upstream_url + "/v2",
                    api_key=None,
                    input_price_per_mtok=2.0,
                    max_retries=0,
                )
            ],
        ),
        ModelEntry(
            alias="word-rerank",
            kind="rerank",
            capabilities={"rerank"},
            deployments=[Deployment(provider="test", model="overlap")],
        ),
    ]


@pytest.fixture
def gateway(settings: Settings, upstream: FakeUpstream) -> Iterator[tuple[str, str]]:
    settings.models = [*settings.models, *_rerank_entries(upstream.base_url)]
    settings.governance.ledger_flush_seconds = 0.05
    assert settings.auth.bootstrap_admin_key is not None
    with serve_in_thread(create_app(settings, ["llm-gateway"])) as url:
        yield url, settings.auth.bootstrap_admin_key.get_secret_value()


def _client(url: str, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=10)


async def test_a_cohere_compatible_server_answers_in_cohere_shape(
    gateway: tuple[str, str], upstream: FakeUpstream
) -> None:
    url, key = gateway
    upstream.reply_json(
        "/v2/rerank",
        {
            "id": "up-1",
            "results": [
                {"index": 1, "relevance_score": 0.91},
                {"index": 2, "relevance_score": 0.12},
                {"index": 0, "relevance_score": 0.03},
            ],
            "meta": {"billed_units": {"search_units": 1}, "tokens": {"input_tokens": 42}},
        },
    )
    async with _client(url, key) as http:
        answer = await http.post(
            "/llm/v1/rerank",
            json={
                "model": "cohere-rerank",
                "query": "How long is the warranty?",
                "documents": [DOCUMENTS[0], {"text": DOCUMENTS[1]}, DOCUMENTS[2]],
                "top_n": 2,
                "return_documents": True,
            },
        )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model"] == "cohere-rerank"
    assert [(r["index"], r["relevance_score"]) for r in body["results"]] == [(1, 0.91), (2, 0.12)]
    assert body["results"][0]["document"] == {"text": DOCUMENTS[1]}
    assert body["meta"]["tokens"]["input_tokens"] == 42 == body["usage"]["prompt_tokens"]
    sent = upstream.last.json()
    assert sent["model"] == "rerank-v3.5"
    assert sent["query"] == "How long is the warranty?"
    assert sent["documents"] == DOCUMENTS  # objects travel as their text


async def test_rerank_is_metered_as_the_caller(gateway: tuple[str, str]) -> None:
    url, key = gateway
    async with _client(url, key) as http:
        me = (await http.get("/admin/v1/me")).json()["principal"]["id"]
        answer = await http.post(
            "/llm/v1/rerank",
            json={"model": "word-rerank", "query": "warranty years", "documents": DOCUMENTS},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["results"][0]["index"] == 1  # the scripted word-overlap order
        deadline = time.monotonic() + 10
        records: list[dict[str, Any]] = []
        while not records and time.monotonic() < deadline:
            found = await http.get("/admin/v1/usage/records", params={"principal_id": me})
            records = [r for r in found.json()["records"] if r["model"] == "word-rerank"]
    assert len(records) == 1
    assert records[0]["endpoint"] == "rerank"
    assert records[0]["input_tokens"] == answer.json()["usage"]["prompt_tokens"] > 0


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"model": "word-rerank", "query": "q", "documents": []}, 400, "documents"),
        ({"model": "word-rerank", "query": "q", "documents": [""]}, 400, None),
        ({"model": "word-rerank", "query": "", "documents": ["a"]}, 400, "query"),
        ({"model": "echo", "query": "q", "documents": ["a"]}, 404, "model"),
        ({"model": "nope", "query": "q", "documents": ["a"]}, 404, "model"),
    ],
)
async def test_bad_rerank_requests_are_4xx_with_a_code(
    gateway: tuple[str, str], body: dict[str, Any], status: int, param: str | None
) -> None:
    url, key = gateway
    async with _client(url, key) as http:
        answer = await http.post("/llm/v1/rerank", json=body)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["code"]
    if param is not None:
        assert error["param"] == param


async def test_an_upstream_failure_is_a_gateway_error_not_a_500(
    gateway: tuple[str, str], upstream: FakeUpstream
) -> None:
    url, key = gateway
    upstream.reply_json("/v2/rerank", {"results": [{"index": 7, "relevance_score": 1}]})
    async with _client(url, key) as http:
        answer = await http.post(
            "/llm/v1/rerank", json={"model": "cohere-rerank", "query": "q", "documents": ["a"]}
        )
    assert answer.status_code == 502
    assert answer.json()["error"]["code"] == "upstream_bad_response"
