"""The raw-turn baselines, measured in the same run on the same questions: BM25, dense
(the packaged MiniLM) and reciprocal-rank fusion of the two, over ``speaker: text`` of each
turn, with the shared search building blocks' defaults and no memory-gateway tuning. They
anchor the gateway's figure against targets.md's baselines (measured elsewhere with an
unknown text recipe)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from agentic_platform.llm_gateway.catalog import Deployment
from agentic_platform.llm_gateway.providers.local_embedder import embedder_from_deployment
from agentic_platform.search.lexical import LexicalIndex
from bench.memory.locomo import Conversation, coverage

FloatArray = npt.NDArray[np.float32]
RRF_K = 60
TOP = 10


def _ranks(scores: FloatArray) -> FloatArray:
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores), dtype=np.float32)
    ranks[order] = np.arange(1, len(scores) + 1)
    return ranks


def _top(scores: FloatArray, ids: Sequence[str]) -> set[str]:
    return {ids[i] for i in np.argsort(-scores, kind="stable")[:TOP]}


async def measure(conversations: Sequence[Conversation]) -> dict[str, float]:
    """Mean evidence recall@10 of each baseline over every question."""
    embedder = embedder_from_deployment(Deployment(provider="local", model="all-minilm-l6-v2"))
    scores: dict[str, list[float]] = {"bm25": [], "dense": [], "rrf": []}
    try:
        for conversation in conversations:
            turns = [turn for session in conversation.sessions for turn in session]
            ids = [turn.dia_id for turn in turns]
            texts = [f"{turn.speaker}: {turn.text}" for turn in turns]
            lexical = LexicalIndex()
            lexical.add(list(range(len(texts))), texts, [""] * len(texts))
            alive = np.ones(len(texts), dtype=np.bool_)
            vectors = np.asarray((await embedder.embed(texts)).vectors, dtype=np.float32)
            questions = [q.text for q in conversation.questions]
            queries = np.asarray((await embedder.embed(questions)).vectors, dtype=np.float32)
            for question, query in zip(conversation.questions, queries, strict=True):
                bm25 = lexical.scores(question.text, alive)
                dense: FloatArray = vectors @ query
                fused = 1 / (RRF_K + _ranks(bm25)) + 1 / (RRF_K + _ranks(dense))
                for name, ranked in (("bm25", bm25), ("dense", dense), ("rrf", fused)):
                    scores[name].append(coverage(question, _top(ranked, ids)))
    finally:
        await embedder.aclose()
    return {name: float(np.mean(values)) for name, values in scores.items()}


def run(conversations: Sequence[Conversation]) -> dict[str, float]:
    return asyncio.run(measure(conversations))
