"""BM25 and fusion behave as documented: stems and stop words, context weighted above the
body, dead rows ignored, and a convex fusion in which agreeing evidence wins."""

from __future__ import annotations

import numpy as np

from agentic_platform.search.fusion import FusionParameters, fuse
from agentic_platform.search.lexical import Analyzer, BM25Parameters, LexicalIndex


def test_terms_are_stemmed_and_stop_words_dropped() -> None:
    assert Analyzer().terms("The runners were running to the Studies!") == [
        "runner",
        "were",
        "run",
        "studi",
    ]


def test_context_counts_more_than_body_and_dead_rows_do_not_count() -> None:
    index = LexicalIndex(BM25Parameters(context_weight=3.0))
    index.add(
        [0, 1, 2], ["vaccine trial results", "results of a study", "noise"], ["", "Vaccine", ""]
    )
    alive = np.array([True, True, True])
    scores = index.scores("vaccine", alive)
    assert scores[1] > scores[0] > 0 == scores[2]
    alive[1] = False
    assert index.scores("vaccine", alive)[1] == 0


def test_fusion_rewards_agreement_and_scales_bm25_by_the_best() -> None:
    semantic = np.array([0.9, 0.2, 0.7], dtype=np.float32)
    lexical = np.array([0.0, 10.0, 8.0], dtype=np.float32)
    fused = fuse(semantic, lexical, FusionParameters(semantic_weight=0.5))
    assert np.allclose(fused, [0.45, 0.6, 0.75])
    assert int(np.argmax(fused)) == 2
    only_semantic = fuse(semantic, np.zeros(3, dtype=np.float32), FusionParameters(0.5))
    assert np.allclose(only_semantic, semantic * 0.5)
