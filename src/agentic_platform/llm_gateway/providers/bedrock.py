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

Wire translation lives in :mod:`agentic_platform.llm_gateway.providers.bedrock_wire`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import os
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
import urllib3.exceptions
from botocore.config import Config
from botocore.eventstream import ParserError as EventStreamParserError
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ReadTimeoutError,
    ResponseStreamingError,
    SSOError,
    TokenRetrievalError,
)

from agentic_platform.errors import (
    ConfigurationError,
    UpstreamAuthError,
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamRequestError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from agentic_platform.llm_gateway.catalog import Deployment
from agentic_platform.llm_gateway.providers import bedrock_wire as wire
from agentic_platform.llm_gateway.schemas import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    EmbeddingResult,
)

if TYPE_CHECKING:
    from mypy_boto3_bedrock_runtime import BedrockRuntimeClient

T = TypeVar("T")

DEFAULT_CONCURRENCY = 32

# --- errors ----------------------------------------------------------------------------

_ERROR_CODES: dict[str, type[UpstreamError]] = {
    "ThrottlingException": UpstreamRateLimitError,
    "ServiceQuotaExceededException": UpstreamRateLimitError,
    "ServiceUnavailableException": UpstreamUnavailableError,
    "InternalServerException": UpstreamUnavailableError,
    "ModelNotReadyException": UpstreamUnavailableError,
    "ModelErrorException": UpstreamUnavailableError,
    "ModelStreamErrorException": UpstreamUnavailableError,
    "ModelTimeoutException": UpstreamTimeoutError,
    "AccessDeniedException": UpstreamAuthError,
    "UnrecognizedClientException": UpstreamAuthError,
    "ExpiredTokenException": UpstreamAuthError,
    "InvalidSignatureException": UpstreamAuthError,
    "IncompleteSignature": UpstreamAuthError,
    "ValidationException": UpstreamRequestError,
    "ResourceNotFoundException": UpstreamRequestError,
}

_CREDENTIAL_ERRORS = (
    NoCredentialsError,
    PartialCredentialsError,
    CredentialRetrievalError,
    TokenRetrievalError,
    SSOError,
)
_TIMEOUTS = (ReadTimeoutError, ConnectTimeoutError, urllib3.exceptions.TimeoutError)
_CONNECTION_ERRORS = (
    EndpointConnectionError,
    ConnectionClosedError,
    ResponseStreamingError,
    urllib3.exceptions.HTTPError,
    EventStreamParserError,
)
TRANSPORT_ERRORS = (
    ClientError,
    BotoCoreError,
    urllib3.exceptions.HTTPError,
    EventStreamParserError,
)
"""Everything a boto3 call or an event stream raises for an upstream or network failure."""


def upstream_error(exc: Exception, deployment: Deployment) -> UpstreamError:
    """The platform error for a botocore failure. Messages name the model and Bedrock's
    error code, never credentials or exception text from the credential chain."""
    if isinstance(exc, ClientError):
        return _client_error(exc, deployment)
    if isinstance(exc, _TIMEOUTS):
        return UpstreamTimeoutError(
            f"Bedrock did not answer for {deployment.model} within {deployment.timeout_seconds:g}s"
        )
    if isinstance(exc, _CREDENTIAL_ERRORS):
        return UpstreamAuthError(
            "the gateway has no usable AWS credentials for Bedrock: configure the standard "
            f"AWS credential chain (IRSA, instance role or environment) ({type(exc).__name__})"
        )
    if isinstance(exc, _CONNECTION_ERRORS):
        return UpstreamUnavailableError(
            f"the connection to Bedrock failed for {deployment.model} ({type(exc).__name__})"
        )
    return UpstreamError(f"the Bedrock call failed for {deployment.model} ({type(exc).__name__})")


def _client_error(exc: ClientError, deployment: Deployment) -> UpstreamError:
    error = exc.response.get("Error", {})
    raw_code = str(error.get("Code", ""))
    code = raw_code[:1].upper() + raw_code[1:]  # stream events say "throttlingException"
    metadata = exc.response.get("ResponseMetadata", {})
    status = metadata.get("HTTPStatusCode")
    retry_after = _retry_after(metadata.get("HTTPHeaders", {}))
    kind = _ERROR_CODES.get(code) or _kind_for_status(status)
    message = _client_error_message(kind, code, str(error.get("Message", "")), deployment)
    return kind(message, retry_after=retry_after, upstream_status=status)


def _kind_for_status(status: int | None) -> type[UpstreamError]:
    if status == 429:
        return UpstreamRateLimitError
    if status is not None and status >= 500:
        return UpstreamUnavailableError
    if status is not None and 400 <= status < 500:
        return UpstreamRequestError
    return UpstreamError


def _client_error_message(
    kind: type[UpstreamError], code: str, detail: str, deployment: Deployment
) -> str:
    model = deployment.model
    if code == "ResourceNotFoundException":
        where = f" in {deployment.region}" if deployment.region else ""
        return f"the model id '{model}' is not available on Bedrock{where}"
    if kind is UpstreamRequestError:
        return f"Bedrock rejected the request for {model}: {detail[:1000] or code}"
    if kind is UpstreamAuthError:
        return (
            f"Bedrock refused the gateway's AWS identity for {model} ({code}): check the "
            "IAM role's bedrock:InvokeModel permissions and the account's model access"
        )
    if kind is UpstreamRateLimitError:
        return f"Bedrock is throttling requests for {model} ({code})"
    if kind is UpstreamTimeoutError:
        return f"the Bedrock model {model} timed out ({code})"
    return f"Bedrock could not serve {model} ({code or 'unknown error'})"


def _retry_after(headers: Mapping[str, str]) -> float | None:
    try:
        return float(headers["retry-after"])
    except (KeyError, ValueError):
        return None


# --- the client ------------------------------------------------------------------------


def _positive_int(deployment: Deployment, key: str, default: int | None) -> int | None:
    """An integer option, checked when the provider is built (at start-up)."""
    value = deployment.options.get(key, default)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigurationError(
            f"deployment {deployment.name}: options.{key} must be a positive integer"
        )
    return value


def build_client(deployment: Deployment, pool_size: int) -> BedrockRuntimeClient:
    """One ``bedrock-runtime`` client per provider: clients are thread-safe and costly to
    build, and a private session keeps credential refresh off boto3's shared default."""
    config = Config(
        connect_timeout=deployment.timeout_seconds,
        read_timeout=deployment.timeout_seconds,
        # ``total_max_attempts`` counts the first try; botocore's ``max_attempts`` counts
        # *retries*, so ``max_attempts: 1`` would still retry once.
        retries={"mode": "standard", "total_max_attempts": 1},
        max_pool_connections=pool_size,
        user_agent_extra="agentic-platform",
    )
    endpoint_url = deployment.options.get("endpoint_url")
    session = boto3.session.Session()
    # botocore's default region ignores AWS_REGION, which other SDKs and EKS set.
    region = deployment.region or session.region_name or os.environ.get("AWS_REGION")
    try:
        return session.client(
            "bedrock-runtime",
            region_name=region,
            endpoint_url=str(endpoint_url) if endpoint_url else None,
            config=config,
        )
    except NoRegionError:
        raise ConfigurationError(
            f"deployment {deployment.name} has no AWS region: set 'region' on the deployment "
            "or AWS_REGION / AWS_DEFAULT_REGION in the environment"
        ) from None
    except BotoCoreError as exc:
        raise ConfigurationError(
            f"deployment {deployment.name}: cannot build the Bedrock client ({type(exc).__name__})"
        ) from None


class _BedrockBase:
    """The client, the worker threads, and the error translation both providers share."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.concurrency = _positive_int(deployment, "max_concurrency", DEFAULT_CONCURRENCY) or 1
        self.client = build_client(deployment, self.concurrency)
        self._executor = ThreadPoolExecutor(
            max_workers=self.concurrency, thread_name_prefix=f"bedrock-{deployment.model}"[:40]
        )

    async def _call(self, function: Callable[[], T]) -> T:
        """Runs a blocking boto3 call on a worker thread (keeping the caller's context
        variables, e.g. for logging) and maps its failures to platform errors."""
        context = contextvars.copy_context()
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, context.run, function)
        except TRANSPORT_ERRORS as exc:
            raise upstream_error(exc, self.deployment) from exc

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self.client.close()


# --- chat ------------------------------------------------------------------------------

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


class BedrockChatProvider(_BedrockBase):
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
        call = wire.converse_request(request, self.deployment.model, self._extra)
        response = await self._call(lambda: self.client.converse(**call.params))
        return wire.chat_completion(response, request.model, call.response_tool)

    async def stream(self, request: ChatCompletionRequest) -> AsyncIterator[ChatCompletionChunk]:
        call = wire.converse_request(request, self.deployment.model, self._extra)
        translator = wire.StreamTranslator(request.model, call.response_tool)
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


# --- embeddings ------------------------------------------------------------------------


class BedrockEmbeddingProvider(_BedrockBase):
    """Embeddings through InvokeModel: Titan text models take one text per call, Cohere
    models a batch of up to 96. Calls run concurrently, at most ``max_concurrency`` at once
    for one request, so a large request cannot monopolise the worker threads' queue."""

    def __init__(self, deployment: Deployment) -> None:
        model = deployment.model
        if "amazon.titan-embed" in model:
            self._family = "titan"
        elif "cohere.embed" in model:
            self._family = "cohere"
        else:
            raise ConfigurationError(
                f"deployment {deployment.name}: Bedrock embeddings support Titan "
                "(amazon.titan-embed-*) and Cohere (cohere.embed-*) models"
            )
        options = deployment.options
        self._dimensions = _positive_int(deployment, "dimensions", None)
        super().__init__(deployment)
        self._input_type = str(options.get("input_type", "search_document"))
        self._cohere_extra = {"truncate": options["truncate"]} if "truncate" in options else {}

    async def embed(self, texts: list[str]) -> EmbeddingResult:
        if self._family == "titan":
            results = await self._bounded([self._titan_call(text) for text in texts])
            return EmbeddingResult(
                vectors=[vector for vector, _ in results],
                prompt_tokens=sum(tokens for _, tokens in results),
            )
        batches = [
            texts[i : i + wire.COHERE_BATCH] for i in range(0, len(texts), wire.COHERE_BATCH)
        ]
        answers = await self._bounded([self._cohere_call(batch) for batch in batches])
        return EmbeddingResult(
            vectors=[vector for vectors, _ in answers for vector in vectors],
            prompt_tokens=sum(tokens for _, tokens in answers),
        )

    async def _bounded(self, calls: list[Callable[[], T]]) -> list[T]:
        """Runs the calls concurrently, in order of results, with a per-request bound."""
        limit = asyncio.Semaphore(self.concurrency)

        async def one(call: Callable[[], T]) -> T:
            async with limit:
                return await self._call(call)

        return list(await asyncio.gather(*(one(call) for call in calls)))

    def _titan_call(self, text: str) -> Callable[[], tuple[list[float], int]]:
        def call() -> tuple[list[float], int]:
            payload, _ = self._invoke(wire.titan_body(text, self._dimensions))
            return wire.titan_result(payload)

        return call

    def _cohere_call(self, batch: list[str]) -> Callable[[], tuple[list[list[float]], int]]:
        def call() -> tuple[list[list[float]], int]:
            body = wire.cohere_body(batch, self._input_type, self._cohere_extra)
            payload, headers = self._invoke(body)
            vectors = wire.cohere_vectors(payload, len(batch))
            counted = headers.get("x-amzn-bedrock-input-token-count")
            tokens = int(counted) if counted else wire.estimate_tokens(batch)
            return vectors, tokens

        return call

    def _invoke(self, body: bytes) -> tuple[Any, Mapping[str, str]]:
        """One InvokeModel call, body read on the same worker thread."""
        response = self.client.invoke_model(
            modelId=self.deployment.model,
            body=body,
            contentType="application/json",
            accept="application/json",
        )
        try:
            payload = json.loads(response["body"].read())
        except ValueError:
            raise UpstreamError("Bedrock returned an embedding response that is not JSON") from None
        headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        return payload, headers


def chat_provider(deployment: Deployment) -> BedrockChatProvider:
    return BedrockChatProvider(deployment)


def embedding_provider(deployment: Deployment) -> BedrockEmbeddingProvider:
    return BedrockEmbeddingProvider(deployment)


def rerank_provider(deployment: Deployment) -> Any:
    """Bedrock's rerank models (see :mod:`.bedrock_rerank`)."""
    from agentic_platform.llm_gateway.providers.bedrock_rerank import BedrockReranker

    return BedrockReranker(deployment)
