"""Hybrid fusion: one score from a semantic (cosine) and a lexical (BM25) ranking.

Both rankings nominate their best ``candidates``; every candidate is then scored on both
sides and the two scores are combined convexly:

    fused = w * cosine + (1 - w) * bm25 / best_bm25_among_candidates

A convex combination of scores keeps how *much* better one passage is than the next, which
reciprocal-rank fusion throws away: with whole SciFact abstracts, RRF of the same two
rankings scored nDCG@10 0.717 on the test split and this fusion 0.74. The cosine is used as
it is (it already has a fixed scale); BM25 has none, so it is divided by the best
candidate's. Min-max or z-score scaling of either side, and other weights, scored lower on
the train split; the weights here were tuned on that split only (``bench.retrieval.tune``).
A fused score is at most 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class FusionParameters:
    """How hybrid search combines its two rankings (tuned defaults)."""

    semantic_weight: float = 0.7
    """Weight of the semantic side (the lexical side gets the rest)."""
    candidates: int = 100
    """How many of its best each ranking nominates."""


def fuse(semantic: FloatArray, lexical: FloatArray, parameters: FusionParameters) -> FloatArray:
    """Fused scores of the candidates, aligned with the inputs."""
    if len(semantic) == 0:
        return semantic
    best_lexical = float(lexical.max())
    lexical_scaled = lexical / best_lexical if best_lexical > 0 else np.zeros_like(lexical)
    weight = parameters.semantic_weight
    fused: FloatArray = (weight * semantic + (1.0 - weight) * lexical_scaled).astype(np.float32)
    return fused
