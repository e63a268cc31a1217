"""A Responses call is metered like a chat completion: one ledger row with its tokens and
cost, streamed or not, and a stream the client leaves is still paid for."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from test_metering import DOLLAR_A_TOKEN, Served, serve

from agentic_platform.llm_gateway.catalog import Deployment, ModelEntry
from agentic_platform.settings import Settings

RESPONSES = "/llm/v1/responses"


@pytest.fixture
def served(settings: Settings, database_url: str) -> Iterator[Served]:
    deployment = Deployment(
        provider="test",
        model="priced",
        input_price_per_mtok=DOLLAR_A_TOKEN,
        output_price_per_mtok=DOLLAR_A_TOKEN,
        options={"delay_seconds": 0.3},
    )
    entry = ModelEntry(
        alias="priced-stream", capabilities={"chat", "streaming"}, deployments=[deployment]
    )
    yield from serve(settings, database_url, entry)


async def test_a_response_is_recorded_with_its_usage(served: Served) -> None:
    principal_id, secret = await served.user()
    async with served.client(secret) as http:
        answer = await http.post(RESPONSES, json={"model": "priced-stream", "input": "hi there"})
        assert answer.status_code == 200, answer.text
        usage = answer.json()["usage"]
        streamed = await http.post(
            RESPONSES, json={"model": "priced-stream", "input": "hi there", "stream": True}
        )
        assert streamed.status_code == 200
    rows = sorted(await served.rows(principal_id, 2), key=lambda row: row["streamed"])
    assert [row["streamed"] for row in rows] == [False, True]
    for row in rows:
        assert row["status"] == 200 and row["endpoint"] == "responses"
        assert (row["input_tokens"], row["output_tokens"]) == (
            usage["input_tokens"],
            usage["output_tokens"],
        )
        assert row["cost_usd"] == pytest.approx(usage["total_tokens"])


async def test_a_stream_left_early_is_paid_for(served: Served) -> None:
    principal_id, secret = await served.user()
    body = {"model": "priced-stream", "input": "hi there", "stream": True}
    async with served.client(secret) as http, http.stream("POST", RESPONSES, json=body) as answer:
        async for line in answer.aiter_lines():
            if line.startswith("data: ") and '"response.output_text.delta"' in line:
                assert json.loads(line.removeprefix("data: "))["delta"]
                break  # leaving the block closes the connection mid-stream
    (row,) = await served.rows(principal_id, 1)
    assert row["status"] == 499 and row["error_type"] == "client_disconnected"
    assert row["endpoint"] == "responses" and row["input_tokens"] > 0
