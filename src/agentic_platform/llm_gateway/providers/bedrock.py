"""The ``bedrock`` provider: Amazon Bedrock chat (Converse, ConverseStream) and embeddings
(InvokeModel with Titan or Cohere embedding models).

Credentials come from the standard AWS chain (environment, shared files, IRSA web identity,
ECS/EC2 roles), so nothing secret lives in the catalog. The region is ``deployment.region``,
else the AWS default (``AWS_DEFAULT_REGION`` or the profile), else ``AWS_REGION``.

boto3 blocks, so every call runs on a thread of the provider's own executor, never on the
event loop, and never on the loop's default executor, which long-lived streams would starve.
botocore's own retries are off: the gateway retries and falls back itself, and two layers of
retries multiply latency.

Deployment ``options``:

* ``endpoint_url``: another Bedrock runtime endpoint (a VPC endpoint, a proxy, a test server);
* ``max_concurrency`` (default 32): worker threads and pooled connections per provider;
* ``additional_model_request_fields``: a mapping passed to Converse unchanged, for
  model-specific parameters such as ``top_k``;
* ``input_type`` (Cohere, default ``search_document``), ``truncate`` (Cohere) and
  ``dimensions`` (Titan v2) for embeddings.

Chat is here; the rest is split by concern: requests (:mod:`.bedrock_wire`) and answers
(:mod:`.bedrock_answer`) in the OpenAI shapes, the boto3 client and threads
(:mod:`.bedrock_client`), failures as platform errors (:mod:`.bedrock_errors`), and the
embedding provider (:mod:`.bedrock_embeddings`).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from agentic_platform.errors import ConfigurationError, UpstreamUnavailableError
from agentic_platform.llm_gateway.catalog import Deployment
from agentic_platform.llm_gateway.providers import bedrock_wire as wire
from agentic_platform.llm_gateway.providers.base import upstream_model
from agentic_platform.llm_gateway.providers.bedrock_answer import StreamTranslator, chat_completion
from agentic_platform.llm_gateway.providers.bedrock_client import BedrockCaller
from agentic_platform.llm_gateway.providers.bedrock_embeddings import BedrockEmbeddingProvider
from agentic_platform.llm_gateway.providers.bedrock_errors import TRANSPORT_ERRORS, upstream_error
from agentic_platform.llm_gateway.schemas import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
)

if TYPE_CHECKING:
    from mypy_boto3_bedrock_runtime import BedrockRuntimeClient

__all__ = ["BedrockChatProvider", "BedrockEmbeddingProvider", "chat_provider", "embedding_provider"]

_StreamItem = Mapping[str, Any] | Exception | None
"""What the reader thread hands over: an event, a failure, or ``None`` at the end."""


class _StreamReader:
    """Reads one ConverseStream on a worker thread and hands each event to the event loop.

    When the consumer goes away (client disconnected, task cancelled) it sets ``stop``; the
    reader then stops at the next event and closes the HTTP stream, which tells Bedrock to
    stop generating. A stream that is silent at that moment ends at the read timeout.
    """

    def __init__(
        self,
        client: BedrockRuntimeClient,
        params: Mapping[str, Any],
        loop: asyncio.AbstractEventLoop,
        queue: asyncio.Queue[_StreamItem],
    ) -> None:
        self._client = client
        self._params = params
        self._loop = loop
        self._queue = queue
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            if not self.stop.is_set():
                self._read()
            self._hand(None)
        except Exception as exc:  # handed to the consumer, which maps it to a platform error
            self._hand(exc)

    def _read(self) -> None:
        stream = self._client.converse_stream(**self._params)["stream"]
        try:
            for event in stream:
                if self.stop.is_set():
                    return
                self._hand(event)
        finally:
            stream.close()

    def _hand(self, item: _StreamItem) -> None:
        if self.stop.is_set():
            return
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the event loop is closed: nobody is listening any more
            self.stop.set()


class BedrockChatProvider(BedrockCaller):
    """Chat through Converse and ConverseStream; see the module docstring."""

    def __init__(self, deployment: Deployment) -> None:
        super().__init__(deployment)
        extra = deployment.options.get("additional_model_request_fields")
        if extra is not None and not isinstance(extra, Mapping):
            raise ConfigurationError(
                f"deployment {deployment.name}: options.additional_model_request_fields "
                "must be a mapping"
            )
        self._extra: Mapping[str, Any] | None = extra
        self._readers: set[_StreamReader] = set()
        self._readers_lock = threading.Lock()

    @property
    def active_streams(self) -> int:
        """Reader threads still running (streams not yet finished or stopped)."""
        with self._readers_lock:
            return len(self._readers)

    async def complete(self, request: ChatCompletionRequest) -> ChatCompletion:
        call = wire.converse_request(
            request, upstream_model(self.deployment.model, request), self._extra
        )
        response = await self._call(lambda: self.client.converse(**call.params))
        return chat_completion(response, request.model, call.response_tool)

    async def stream(self, request: ChatCompletionRequest) -> AsyncIterator[ChatCompletionChunk]:
        call = wire.converse_request(
            request, upstream_model(self.deployment.model, request), self._extra
        )
        translator = StreamTranslator(request.model, call.response_tool)
        # aclosing: when our consumer leaves early, the reader must hear it now, not at GC.
        async with contextlib.aclosing(self._events(call.params)) as events:
            async for event in events:
                for chunk in translator.translate(event):
                    yield chunk
        for chunk in translator.finish():
            yield chunk

    async def _events(self, params: Mapping[str, Any]) -> AsyncGenerator[Mapping[str, Any], None]:
        """ConverseStream events, read on a worker thread and passed through a queue; leaving
        this generator early (cancellation, ``aclose``) tells the reader to stop."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[_StreamItem] = asyncio.Queue()
        reader = _StreamReader(self.client, params, loop, queue)
        self._start(reader)
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, TRANSPORT_ERRORS):
                    raise upstream_error(item, self.deployment) from item
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            reader.stop.set()

    def _start(self, reader: _StreamReader) -> None:
        def run() -> None:
            try:
                reader.run()
            finally:
                with self._readers_lock:
                    self._readers.discard(reader)

        with self._readers_lock:
            self._readers.add(reader)
        try:
            self._executor.submit(contextvars.copy_context().run, run)
        except RuntimeError:  # the executor is shut down
            with self._readers_lock:
                self._readers.discard(reader)
            raise UpstreamUnavailableError("the Bedrock provider is shutting down") from None

    async def aclose(self) -> None:
        with self._readers_lock:
            readers = list(self._readers)
        for reader in readers:
            reader.stop.set()
        await super().aclose()


def chat_provider(deployment: Deployment) -> BedrockChatProvider:
    return BedrockChatProvider(deployment)


def embedding_provider(deployment: Deployment) -> BedrockEmbeddingProvider:
    return BedrockEmbeddingProvider(deployment)


def rerank_provider(deployment: Deployment) -> Any:
    """Bedrock's rerank models (see :mod:`.bedrock_rerank`)."""
    from agentic_platform.llm_gateway.providers.bedrock_rerank import BedrockReranker

    return BedrockReranker(deployment)
