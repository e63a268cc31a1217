"""Embeddings through the LLM gateway, as the user who asked, in batches.

Every vector is computed by the gateway's ``/embeddings`` (so it is authenticated, limited
and metered as the caller's, like any model call). Ingestion sends batches of
``batch_size`` texts with a few calls in flight, so the embedder never waits for our
bookkeeping between batches; vectors travel base64-encoded (cheaper to parse than JSON
floats).
"""

from __future__ import annotations

import asyncio
import base64
from collections import OrderedDict
from collections.abc import Sequence

import httpx
import numpy as np
import numpy.typing as npt

from agentic_platform.auth.principal import Principal
from agentic_platform.clients.internal import llm_client_for
from agentic_platform.clients.llm import GatewayClientError, LLMClient
from agentic_platform.errors import (
    InvalidRequestError,
    ModelNotFoundError,
    PlatformError,
    UpstreamUnavailableError,
)
from agentic_platform.settings import RetrievalSettings
from agentic_platform.state import PlatformState

FloatArray = npt.NDArray[np.float32]
QUERY_CALLS_IN_FLIGHT = 64


def _vector(encoded: list[float] | str) -> FloatArray:
    if isinstance(encoded, str):
        return np.frombuffer(base64.b64decode(encoded), dtype="<f4").astype(np.float32)
    return np.asarray(encoded, dtype=np.float32)


def _as_platform_error(error: GatewayClientError, model: str) -> PlatformError:
    """The gateway's answer, re-raised as what it means to the retrieval caller."""
    if error.status_code == 404:
        return ModelNotFoundError(
            f"The embedding model '{model}' is not in the catalog: {error.message}",
            param="embedding_model",
        )
    if error.status_code < 500 and error.status_code not in (401, 403, 429):
        return InvalidRequestError(f"The embedding model refused the text: {error.message}")
    failure = UpstreamUnavailableError(f"Embedding failed: {error.message}")
    failure.status_code = error.status_code if error.status_code >= 400 else 502
    if error.status_code == 429:
        failure.error_type = "rate_limit_error"
    return failure


class GatewayEmbedder:
    """Embeds for one principal with one model; see the module docstring."""

    def __init__(
        self,
        client: LLMClient,
        model: str,
        *,
        batch_size: int = 64,
        slots: asyncio.Semaphore | None = None,
    ) -> None:
        self._client = client
        self.model = model
        self._batch_size = batch_size
        self._slots = slots or asyncio.Semaphore(1)

    async def embed_batch(self, texts: Sequence[str]) -> FloatArray:
        """One gateway call: a matrix with one row per text."""
        async with self._slots:
            try:
                response = await self._client.embeddings(
                    model=self.model, input=list(texts), encoding_format="base64"
                )
            except GatewayClientError as error:
                raise _as_platform_error(error, self.model) from None
            except httpx.HTTPError as error:
                raise UpstreamUnavailableError(
                    f"The LLM gateway could not be reached for embeddings ({type(error).__name__})."
                ) from None
        rows = sorted(response.data, key=lambda item: item.index)
        return np.stack([_vector(item.embedding) for item in rows])

    async def embed(self, texts: Sequence[str]) -> FloatArray:
        """Any number of texts, in batches, a few at once."""
        size = self._batch_size
        parts = await asyncio.gather(
            *(self.embed_batch(texts[i : i + size]) for i in range(0, len(texts), size))
        )
        return np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)

    @property
    def batch_size(self) -> int:
        return self._batch_size


class EmbedderClients:
    """One LLM gateway client per principal, kept open (a client per request would pay for
    its connection set-up on every search); closed at shutdown."""

    def __init__(self, state: PlatformState, settings: RetrievalSettings, limit: int = 256):
        self._state = state
        self._settings = settings
        self._limit = limit
        self._clients: OrderedDict[str, LLMClient] = OrderedDict()
        self._closing: set[asyncio.Future[None]] = set()
        self._ingestion_slots = asyncio.Semaphore(settings.embedding_concurrency)
        self._query_slots = asyncio.Semaphore(QUERY_CALLS_IN_FLIGHT)

    def for_principal(
        self, principal: Principal, model: str, *, ingesting: bool = False
    ) -> GatewayEmbedder:
        """An embedder for ``principal``. Ingestion embedders share one budget of calls in
        flight (``embedding_concurrency``) however many jobs run, so a burst of jobs cannot
        queue more work on the embedder than it finishes within its timeout; queries have
        their own budget and never wait behind ingestion here."""
        return GatewayEmbedder(
            self.client_for(principal),
            model,
            batch_size=self._settings.embedding_batch_size,
            slots=self._ingestion_slots if ingesting else self._query_slots,
        )

    def client_for(self, principal: Principal) -> LLMClient:
        """The kept-open LLM gateway client acting for ``principal``."""
        client = self._clients.get(principal.id)
        if client is None:
            client = llm_client_for(self._state, principal)
            self._clients[principal.id] = client
            if len(self._clients) > self._limit:
                _, oldest = self._clients.popitem(last=False)
                closing = asyncio.ensure_future(oldest.aclose())
                self._closing.add(closing)
                closing.add_done_callback(self._closing.discard)
        else:
            self._clients.move_to_end(principal.id)
        return client

    async def aclose(self) -> None:
        clients = list(self._clients.values())
        self._clients.clear()
        for client in clients:
            await client.aclose()
