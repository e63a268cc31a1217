"""Everything one agent run can see and do: :class:`RunContext`.

The context speaks for the run's user: its typed clients carry the platform service key and
``X-Agentic-Act-As: <user>``, so every model call, search and memory lookup is the user's own
(authenticated, limited, metered, scoped). It also keeps the run's record as it goes: every
model call (``chat``) and tool call (``call_tool``) is a step with its timings, usage and
cost, and every one is sent out as an event when the run is streamed.

Agents built on an SDK that speaks the OpenAI API (PydanticAI, ``openai.AsyncOpenAI``) point it
at :attr:`RunContext.gateway` (or take :meth:`RunContext.gateway_http_client`) and report
what each call used with :meth:`RunContext.record_usage`.
"""

from __future__ import annotations

import asyncio
import fnmatch
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx
import orjson
from opentelemetry.trace import Status, StatusCode

from agentic_platform.agents.chunks import CompletionAssembler
from agentic_platform.agents.events import (
    Event,
    StepFinished,
    StepStarted,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
    Usage,
)
from agentic_platform.agents.protocol import StepLimitReached
from agentic_platform.agents.records import StepKind, StepRecord, ToolCallRecord
from agentic_platform.agents.tools.toolbox import ToolBox, ToolOutcome
from agentic_platform.auth.principal import Principal
from agentic_platform.clients.llm import LLMClient
from agentic_platform.governance.enforcement import ModelNotAllowedError
from agentic_platform.llm_gateway.schemas import ChatCompletion
from agentic_platform.settings import AgentsSettings
from agentic_platform.telemetry.spans import tool_span

if TYPE_CHECKING:
    from agentic_platform.memory.client import MemoryClient
    from agentic_platform.retrieval.client import RetrievalClient
    from agentic_platform.state import PlatformState

Prices = Callable[[str, int, int], float]
"""``(model alias, prompt tokens, completion tokens) -> USD``."""

_open_steps: ContextVar[tuple[StepRecord, ...]] = ContextVar("agent_steps", default=())
"""The workflow steps the current task is inside, outermost first. A context variable, so
steps run concurrently (``asyncio.gather``, task groups) each count only their own calls."""


@dataclass(frozen=True)
class GatewayConnection:
    """How to reach the LLM gateway's OpenAI-compatible API as the run's user.

    ``base_url`` ends in ``/llm/v1``; ``transport`` is the in-process transport when the
    gateway runs in this process (None over the network). Give both to an httpx client, or
    take :meth:`RunContext.gateway_http_client`, which does."""

    base_url: str
    api_key: str
    headers: dict[str, str]
    transport: httpx.AsyncBaseTransport | None


@dataclass
class RunContext:
    """One run of one agent for one user (see the module docstring)."""

    run_id: str
    agent: str
    principal: Principal
    """The end user the run acts for."""
    session_id: str | None
    """The memory session the turn belongs to (None when memory is not reachable)."""
    history: list[dict[str, Any]]
    """Earlier turns of the session, oldest first, as chat messages."""
    message: dict[str, Any]
    """The new user message, as a chat message (text or content parts)."""
    text: str
    """The new message's text (content parts' text joined)."""
    knowledge_bases: list[str]
    metadata: dict[str, Any]
    memories: list[str]
    """Long-term memories recalled for this message, most relevant first."""
    model: str
    """The model alias ``chat`` uses unless the request names another."""
    limits: AgentsSettings
    llm: LLMClient
    memory: MemoryClient | None
    tools: ToolBox
    gateway: GatewayConnection
    streaming: bool = False
    """Whether the caller watches events (``chat`` then streams and sends text deltas)."""
    prices: Prices = field(default=lambda _model, _prompt, _completion: 0.0)
    retrieval_opener: Callable[[], RetrievalClient] | None = None
    events: asyncio.Queue[Event | None] | None = None
    """Where a streamed run's events go (None ends the stream; unset when not streamed)."""
    platform: PlatformState | None = None
    """The process's state, whose tracer puts each tool call in an ``execute_tool`` span."""
    trace_id: str | None = None
    """The trace the run's spans belong to (None while telemetry is off)."""
    steps: list[StepRecord] = field(default_factory=list)
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    model_calls: int = 0
    _http_clients: list[httpx.AsyncClient] = field(default_factory=list)

    # --- the conversation ------------------------------------------------------------

    def messages(self, system: str | None = None) -> list[dict[str, Any]]:
        """The chat so far for the model: ``system`` (with the recalled memories appended),
        then the history, then the new message."""
        prompt = system or ""
        if self.memories:
            known = "\n".join(f"- {memory}" for memory in self.memories)
            prompt = f"{prompt}\n\nWhat you know about the user:\n{known}".strip()
        head = [{"role": "system", "content": prompt}] if prompt else []
        return [*head, *self.history, self.message]

    @property
    def retrieval(self) -> RetrievalClient | None:
        """The retrieval client acting for the user (None when retrieval is unreachable)."""
        return self.retrieval_opener() if self.retrieval_opener is not None else None

    # --- events and steps ------------------------------------------------------------

    def emit(self, event: Event) -> None:
        """Send an event to the caller of a streamed run (dropped when not streamed)."""
        if self.events is not None:
            self.events.put_nowait(event)

    @asynccontextmanager
    async def step(self, name: str) -> AsyncIterator[StepRecord]:
        """A named workflow step: ``step_started``/``step_finished`` events and a recorded
        step with the usage and cost of the model calls made inside it."""
        record = self._open_step("step", name)
        token = _open_steps.set((*_open_steps.get(), record))
        started = time.perf_counter()
        self.emit(StepStarted(name=name))
        try:
            yield record
        except BaseException as error:
            record.error = _reason(error)
            raise
        finally:
            _open_steps.reset(token)
            record.duration_ms = _elapsed_ms(started)
            self.emit(
                StepFinished(
                    name=name,
                    duration_ms=record.duration_ms,
                    usage=record.usage,
                    cost_usd=record.cost_usd,
                    error=record.error,
                )
            )

    def _open_step(self, kind: StepKind, name: str) -> StepRecord:
        record = StepRecord(
            index=len(self.steps), kind=kind, name=name, started_at=datetime.now(UTC), duration_ms=0
        )
        self.steps.append(record)
        return record

    # --- the model -------------------------------------------------------------------

    async def chat(self, **request: Any) -> ChatCompletion:
        """One model call through the gateway, as the user (``model`` defaults to
        :attr:`model`). Recorded as a step with its usage and cost; streamed (text deltas
        sent as events) when the run is. Raises :class:`StepLimitReached` past
        ``limits.max_steps`` calls, and the gateway's error as it answered (e.g. a 429)."""
        if self.model_calls >= self.limits.max_steps:
            raise StepLimitReached(
                f"The agent made {self.model_calls} model calls without finishing "
                f"(agents.max_steps is {self.limits.max_steps}).",
            )
        model = str(request.setdefault("model", self.model))
        if self.limits.max_tokens is not None:
            request.setdefault("max_tokens", self.limits.max_tokens)
        self.model_calls += 1
        record = self._open_step("model", model)
        started = time.perf_counter()
        try:
            completion = await (
                self._streamed(request) if self.streaming else self.llm.chat(**request)
            )
        except BaseException as error:
            record.error = _reason(error)
            record.duration_ms = _elapsed_ms(started)
            raise
        record.duration_ms = _elapsed_ms(started)
        usage = completion.usage
        self._count(record, model, usage.prompt_tokens, usage.completion_tokens)
        return completion

    async def _streamed(self, request: dict[str, Any]) -> ChatCompletion:
        assembler = CompletionAssembler(str(request["model"]))
        open_steps = _open_steps.get()
        step = open_steps[-1].name if open_steps else None
        chunks = self.llm.stream_chat(**request)
        try:
            async for chunk in chunks:
                text = assembler.add(chunk)
                if text:
                    self.emit(TextDelta(text=text, step=step))
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]
        return assembler.completion()

    def record_usage(
        self,
        model: str,
        prompt_tokens: int,
        completion_tokens: int,
        *,
        duration_ms: float = 0.0,
    ) -> None:
        """Record a model call made without :meth:`chat` (an SDK calling the gateway
        itself): a ``model`` step with its usage and cost. The gateway meters the call on
        its own; this puts it in the run record."""
        self.model_calls += 1
        record = self._open_step("model", model)
        record.duration_ms = duration_ms
        self._count(record, model, prompt_tokens, completion_tokens)

    def _count(self, record: StepRecord, model: str, prompt: int, completion: int) -> None:
        record.usage.add(prompt, completion)
        record.cost_usd = self.prices(model, prompt, completion)
        self.usage.add(prompt, completion)
        self.cost_usd += record.cost_usd
        for step in _open_steps.get():
            step.usage.add(prompt, completion)
            step.cost_usd += record.cost_usd

    # --- tools -----------------------------------------------------------------------

    async def call_tool(
        self, name: str, arguments: str | dict[str, Any], *, call_id: str | None = None
    ) -> str:
        """Run one of :attr:`tools` for the model; the text to hand back to it (an error
        text when the tool failed: a tool never fails the run)."""
        call_id = call_id or f"call_{sum(step.kind == 'tool' for step in self.steps) + 1}"
        text = arguments if isinstance(arguments, str) else _json(arguments)
        self.emit(ToolCallStarted(call_id=call_id, name=name, arguments=text))
        record = self._open_step("tool", name)
        outcome = await self._run_tool(name, arguments, call_id)
        record.duration_ms = outcome.duration_ms
        if outcome.is_error:
            record.error = outcome.result
        self.tool_calls.append(
            ToolCallRecord(
                call_id=call_id,
                name=name,
                arguments=text,
                result=outcome.result,
                is_error=outcome.is_error,
                duration_ms=outcome.duration_ms,
            )
        )
        self.emit(
            ToolCallFinished(
                call_id=call_id,
                name=name,
                result=outcome.result,
                is_error=outcome.is_error,
                duration_ms=outcome.duration_ms,
            )
        )
        return outcome.result

    async def _run_tool(
        self, name: str, arguments: str | dict[str, Any], call_id: str
    ) -> ToolOutcome:
        if self.platform is None:
            return await self.tools.run(name, arguments)
        with tool_span(self.platform, name, call_id=call_id) as span:
            outcome = await self.tools.run(name, arguments)
            if outcome.is_error:
                span.set_attribute("error.type", "tool_error")
                span.set_status(Status(StatusCode.ERROR))
            return outcome

    # --- SDK agents ------------------------------------------------------------------

    def gateway_http_client(self, *, timeout: float = 120.0) -> httpx.AsyncClient:
        """An httpx client on the gateway's ``/llm/v1`` as the user, for an SDK
        (``openai.AsyncOpenAI(base_url=ctx.gateway.base_url, api_key=ctx.gateway.api_key,
        http_client=ctx.gateway_http_client())``). Closed when the run ends."""
        client = httpx.AsyncClient(
            base_url=self.gateway.base_url,
            headers={"Authorization": f"Bearer {self.gateway.api_key}", **self.gateway.headers},
            transport=self.gateway.transport,
            timeout=timeout,
        )
        self._http_clients.append(client)
        return client

    async def aclose(self) -> None:
        """Close what the run opened for SDKs (the runner calls it)."""
        for client in self._http_clients:
            await client.aclose()


def check_key_allows(user: Principal, model: str) -> None:
    """Refuse a model the caller's API key may not use (an agent asked for as the model
    ``agent:<name>``; the run's own model calls carry the caller's key to the gateway, which
    applies its allowlist and plan)."""
    if user.key_models is not None and not any(
        fnmatch.fnmatchcase(model, pattern) for pattern in user.key_models
    ):
        raise ModelNotAllowedError(f"This API key may not use the model '{model}'.", param="model")


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _reason(error: BaseException) -> str:
    if isinstance(error, asyncio.CancelledError):
        return "cancelled"
    message = getattr(error, "message", None)
    return str(message) if message else type(error).__name__


def _json(arguments: dict[str, Any]) -> str:
    return orjson.dumps(arguments).decode()
