"""Bedrock's rerank models through InvokeModel, checked at the wire with botocore's Stubber
on the provider's real client."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from agentic_platform.errors import UpstreamError, UpstreamRateLimitError
from agentic_platform.llm_gateway.catalog import Deployment
from agentic_platform.llm_gateway.providers.bedrock import rerank_provider


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for name in ("AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFAKEKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "fake-secret")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "missing-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "missing-credentials"))


def _body(payload: Any) -> dict[str, Any]:
    data = json.dumps(payload).encode()
    return {"body": StreamingBody(io.BytesIO(data), len(data)), "contentType": "application/json"}


class JsonBody:
    def __init__(self, expected: Any) -> None:
        self.expected = expected

    def __eq__(self, other: object) -> bool:
        return isinstance(other, bytes | str) and json.loads(other) == self.expected

    __hash__ = None  # type: ignore[assignment]


def _params(model: str, body: Any) -> dict[str, Any]:
    return {
        "modelId": model,
        "body": JsonBody(body),
        "contentType": "application/json",
        "accept": "application/json",
    }


@pytest.mark.parametrize(
    ("model", "extra"),
    [("cohere.rerank-v3-5:0", {"api_version": 2}), ("amazon.rerank-v1:0", {})],
)
async def test_bedrock_rerank_models_score_every_document(
    model: str, extra: dict[str, Any]
) -> None:
    provider = rerank_provider(Deployment(provider="bedrock", model=model, region="us-west-2"))
    documents = ["shipping", "warranty two years", "returns"]
    with Stubber(provider.client) as stub:
        stub.add_response(
            "invoke_model",
            _body(
                {
                    "results": [
                        {"index": 1, "relevance_score": 0.8},
                        {"index": 0, "relevance_score": 0.1},
                        {"index": 2, "relevance_score": 0.05},
                    ]
                }
            ),
            expected_params=_params(
                model, {"query": "warranty", "documents": documents, "top_n": 3, **extra}
            ),
        )
        scored = await provider.rerank("warranty", documents)
        stub.assert_no_pending_responses()
    assert scored.scores == [0.1, 0.8, 0.05]
    assert scored.input_tokens > 0
    await provider.aclose()


async def test_throttling_and_unreadable_answers_are_upstream_errors() -> None:
    model = "amazon.rerank-v1:0"
    provider = rerank_provider(Deployment(provider="bedrock", model=model, region="us-west-2"))
    with Stubber(provider.client) as stub:
        stub.add_client_error("invoke_model", "ThrottlingException", http_status_code=429)
        stub.add_response("invoke_model", _body({"results": [{"index": 0}]}))
        with pytest.raises(UpstreamRateLimitError):
            await provider.rerank("q", ["a"])
        with pytest.raises(UpstreamError) as unreadable:
            await provider.rerank("q", ["a"])
    assert unreadable.value.code == "upstream_bad_response"
    await provider.aclose()
