"""One run through the real packaged embedder (MiniLM, int8 ONNX): a paraphrase with no word
in common still finds the memory."""

from __future__ import annotations

import pytest
from memory_harness import Platform

from agentic_platform.llm_gateway.catalog import default_models

pytestmark = pytest.mark.asyncio(loop_scope="module")
pytest.importorskip("onnxruntime")

MEMORY_SETTINGS = {"embedding_model": "minilm-l6"}


async def test_semantic_search_with_the_packaged_embedder(platform: Platform) -> None:
    ann = await platform.user("ann")
    session = await ann.session()
    await ann.say(
        session,
        "My daughter started violin lessons last week.",
        "The weather was awful on Tuesday.",
        "I repaired the kitchen sink myself.",
    )
    await platform.settle()
    [best, *_] = await ann.search("child learning a musical instrument", mode="semantic")
    assert best["text"] == "My daughter started violin lessons last week."

    assert platform.memory.settings.embedding_model == default_models()[1].alias
