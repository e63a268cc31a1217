"""One knowledge base on the real packaged embedder (MiniLM, onnxruntime, in-process), the
embedded default: meaning is found without shared words."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from retrieval_harness import SERVICES, retrieval_settings

from agentic_platform.app import create_app
from agentic_platform.llm_gateway.catalog import Deployment, ModelEntry
from agentic_platform.testing.catalog import scripted_models
from agentic_platform.testing.server import serve_in_thread

pytest.importorskip("onnxruntime")
pytestmark = pytest.mark.local_model

DOCUMENTS = {
    "cats": "Cats are small domesticated felines that purr and hunt mice.",
    "tax": "Income tax returns must be filed by the end of April.",
    "rain": "Forecasters expect heavy showers and thunderstorms tomorrow.",
    "gpu": "Graphics cards accelerate the training of neural networks.",
}


def test_semantic_search_with_the_packaged_embedder(tmp_path: Path, admin_key: str) -> None:
    minilm = ModelEntry(
        alias="minilm-l6",
        kind="embedding",
        capabilities={"embeddings"},
        deployments=[Deployment(provider="local", model="all-minilm-l6-v2")],
    )
    settings = retrieval_settings(tmp_path / "data", admin_key, models=[*scripted_models(), minilm])
    settings.retrieval.default_embedding_model = "minilm-l6"
    headers = {"Authorization": f"Bearer {admin_key}"}
    with (
        serve_in_thread(create_app(settings, SERVICES)) as url,
        httpx.Client(base_url=url + "/retrieval/v1/", headers=headers, timeout=60) as http,
    ):
        kb = http.post("knowledge-bases", json={"name": "mixed"}).json()
        assert (kb["embedding_model"], kb["dimensions"]) == ("minilm-l6", 384)
        documents = [{"id": key, "text": text} for key, text in DOCUMENTS.items()]
        assert (
            http.post("knowledge-bases/mixed/documents", json={"documents": documents}).status_code
            == 200
        )
        for query, expected in [
            ("which pets like to chase rodents", "cats"),
            ("will it be wet outside", "rain"),
            ("deadline for paying the government", "tax"),
        ]:
            found = http.post(
                "knowledge-bases/mixed/retrieve",
                json={"query": query, "search_type": "semantic", "top_k": 1},
            ).json()["data"]
            assert found[0]["document_id"] == expected, query
