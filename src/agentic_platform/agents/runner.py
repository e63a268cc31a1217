"""Runs one agent for one user: clients, session, context, limits, outcome.

A run has two halves. :meth:`AgentRunner.prepare` does everything that can still be refused
with a plain 4xx (an unknown agent, an oversized message, someone else's session): it opens
the typed clients acting for the user, the session and its history, and builds the
:class:`~agentic_platform.agents.context.RunContext`. :meth:`AgentRunner.execute` then runs
the agent under the run timeout, writes the turn back to the session, and ends the run with
``run_finished`` or ``error``, raising the failure for ``/invoke`` to answer with. A run
cancelled from outside (the client of a stream went away) closes its clients, which stops
any model call in flight; the gateway meters what that call used.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import httpx
from opentelemetry.trace import Span

from agentic_platform.agents.context import GatewayConnection, RunContext
from agentic_platform.agents.conversation import append_turns, open_conversation, recall
from agentic_platform.agents.events import RunError, RunFinished, RunStarted
from agentic_platform.agents.protocol import (
    Agent,
    AgentFailed,
    AgentModelMissing,
    RunCancelled,
    RunTimedOut,
)
from agentic_platform.agents.registry import AgentRegistry
from agentic_platform.agents.schemas import InvokeRequest, RunResult, RunStatus
from agentic_platform.agents.store import RunStore
from agentic_platform.agents.tools.builtin import ToolSources, builtin_tools
from agentic_platform.agents.tools.mcp.tools import McpServers
from agentic_platform.agents.tools.toolbox import ToolBox
from agentic_platform.auth.principal import Principal
from agentic_platform.clients.internal import (
    llm_client_for,
    memory_client_for,
    retrieval_client_for,
    service_target,
)
from agentic_platform.dependencies import acting_headers
from agentic_platform.errors import (
    ConfigurationError,
    ModelNotFoundError,
    PayloadTooLargeError,
    PlatformError,
)
from agentic_platform.llm_gateway.catalog import ModelCatalog
from agentic_platform.state import PlatformState
from agentic_platform.telemetry.spans import current_trace_id, started_agent_span, within

if TYPE_CHECKING:
    from agentic_platform.memory.client import MemoryClient
    from agentic_platform.retrieval.client import RetrievalClient

logger = logging.getLogger("agentic_platform.agents")


@dataclass
class PreparedRun:
    """A run that passed every check and holds its open clients (``stack`` closes them)."""

    agent: Agent
    ctx: RunContext
    request: InvokeRequest
    stack: AsyncExitStack
    started_at: datetime
    started: float
    span: Span
    """``invoke_agent {name}``: entered while preparing and executing, ended with the run."""


class AgentRunner:
    def __init__(
        self,
        state: PlatformState,
        registry: AgentRegistry,
        store: RunStore,
        http: httpx.AsyncClient | None = None,
        mcp: McpServers | None = None,
    ) -> None:
        self._state = state
        self._store = store
        self._http = http
        self._mcp = mcp
        self._settings = state.settings.agents
        self._catalog = ModelCatalog(state.settings.models)
        self.registry = registry

    def price(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        """USD of a call, at the alias's first deployment's prices (the one that serves it
        unless the gateway falls back); 0 for a model this catalog does not list."""
        try:
            entry = self._catalog.get(model, "chat")
        except ModelNotFoundError:
            return 0.0
        return entry.deployments[0].cost_usd(prompt_tokens, completion_tokens)

    async def prepare(
        self, user: Principal, name: str, request: InvokeRequest, *, streaming: bool
    ) -> PreparedRun:
        agent = self.registry.get(name)
        size = len(request.text.encode())
        if size > self._settings.max_message_bytes:
            raise PayloadTooLargeError(
                f"The message is {size} bytes; the limit is {self._settings.max_message_bytes} "
                "(agents.max_message_bytes).",
                param="message",
            )
        stack = AsyncExitStack()
        model = self._settings.model_for(agent.name)
        span = started_agent_span(self._state, agent.name, request.session_id, model=model)
        try:
            with within(span, end=False):
                ctx = await self._context(stack, user, agent, request, streaming)
                ctx.trace_id = current_trace_id()
        except BaseException:
            span.end()
            await stack.aclose()
            raise
        if ctx.session_id is not None:
            span.set_attribute("gen_ai.conversation.id", ctx.session_id)
        return PreparedRun(agent, ctx, request, stack, datetime.now(UTC), time.perf_counter(), span)

    async def _context(
        self,
        stack: AsyncExitStack,
        user: Principal,
        agent: Agent,
        request: InvokeRequest,
        streaming: bool,
    ) -> RunContext:
        llm = llm_client_for(self._state, user)
        stack.push_async_callback(llm.aclose)
        memory = self._optional(lambda: memory_client_for(self._state, user))
        if memory is not None:
            stack.push_async_callback(memory.aclose)
        conversation = await open_conversation(
            memory, user, agent.name, request.session_id, history_turns=self._settings.history_turns
        )
        memories = await recall(memory, request.text, self._settings.recall_top_k)
        retrieval = self._retrieval_opener(stack, user)
        knowledge_bases = request.all_knowledge_bases
        tools = builtin_tools(
            agent.tools,
            ToolSources(agent.name, knowledge_bases, retrieval, memory, self._http, self._settings),
        )
        if self._mcp is not None:
            tools.extend(await self._mcp.tools_for(agent.name))
        ctx = RunContext(
            run_id=uuid.uuid4().hex,
            agent=agent.name,
            principal=user,
            session_id=conversation.session_id,
            history=conversation.history,
            message={"role": "user", "content": _content(request)},
            text=request.text,
            knowledge_bases=knowledge_bases,
            metadata=request.metadata,
            memories=memories,
            model=self._settings.model_for(agent.name),
            limits=self._settings,
            llm=llm,
            memory=memory,
            tools=ToolBox(
                tools,
                timeout_seconds=self._settings.tool_timeout_seconds,
                max_output_chars=self._settings.max_tool_output_chars,
            ),
            gateway=self._gateway(user),
            streaming=streaming,
            prices=self.price,
            retrieval_opener=retrieval,
            events=asyncio.Queue() if streaming else None,
            platform=self._state,
        )
        stack.push_async_callback(ctx.aclose)
        return ctx

    def _optional(self, open_client: Callable[[], MemoryClient]) -> MemoryClient | None:
        try:
            return open_client()
        except ConfigurationError:
            return None

    def _retrieval_opener(
        self, stack: AsyncExitStack, user: Principal
    ) -> Callable[[], RetrievalClient] | None:
        try:
            service_target(self._state, "retrieval")
        except ConfigurationError:
            return None
        opened: list[RetrievalClient] = []

        def open_retrieval() -> RetrievalClient:
            if not opened:
                opened.append(retrieval_client_for(self._state, user))
                stack.push_async_callback(opened[0].aclose)
            return opened[0]

        return open_retrieval

    def _gateway(self, user: Principal) -> GatewayConnection:
        base_url, transport = service_target(self._state, "llm-gateway")
        return GatewayConnection(
            base_url=base_url.rstrip("/") + "/llm/v1",
            api_key=self._state.service_key,
            headers=acting_headers(user),
            transport=transport,
        )

    async def execute(self, run: PreparedRun) -> RunResult:
        """Run the agent to its end; a failure is sent as an ``error`` event and raised."""
        with within(run.span, end=True):
            return await self._execute(run)

    async def _execute(self, run: PreparedRun) -> RunResult:
        ctx = run.ctx
        try:
            await self._store.started(ctx, run.started_at)
        except BaseException:
            await run.stack.aclose()
            raise
        ctx.emit(
            RunStarted(
                run_id=ctx.run_id,
                agent=ctx.agent,
                session_id=ctx.session_id,
                trace_id=ctx.trace_id,
            )
        )
        try:
            async with run.stack:
                output = await self._run_agent(run)
                await append_turns(
                    ctx.memory,
                    ctx.session_id,
                    ctx.text,
                    output,
                    agent=ctx.agent,
                    max_bytes=self._state.settings.memory.max_message_bytes,
                )
        except asyncio.CancelledError:
            await self._finish(run, "cancelled", RunCancelled("The run was cancelled."))
            raise
        except PlatformError as error:
            await self._fail(run, error)
            raise
        except Exception as error:  # e.g. the memory gateway unreachable while appending
            logger.error("agent run failed", exc_info=error, extra={"run": ctx.run_id})
            failure = AgentFailed(f"The run failed ({type(error).__name__}).")
            await self._fail(run, failure)
            raise failure from None
        result = self._result(run, "succeeded", output)
        await self._finish(run, "succeeded", None)
        ctx.emit(
            RunFinished(
                run_id=ctx.run_id,
                session_id=ctx.session_id,
                output=output,
                usage=result.usage,
                cost_usd=result.cost_usd,
                duration_ms=result.duration_ms,
                trace_id=ctx.trace_id,
            )
        )
        return result

    async def _run_agent(self, run: PreparedRun) -> str:
        limit = self._settings.run_timeout_seconds
        try:
            async with asyncio.timeout(limit) as deadline:
                return await run.agent.run(run.ctx)
        except TimeoutError:
            if deadline.expired():
                raise RunTimedOut(
                    f"The run took longer than {limit:g} seconds (agents.run_timeout_seconds)."
                ) from None
            raise AgentFailed("The agent failed (TimeoutError).") from None
        except PlatformError as error:
            if error.code == "model_not_found":
                raise AgentModelMissing(
                    f"The agent's model is not in the gateway's catalog ({error.message}): set "
                    "agents.default_model or agents.agent_models to a catalog alias."
                ) from None
            raise
        except Exception as error:
            logger.error("agent failed", exc_info=error, extra={"agent": run.agent.name})
            raise AgentFailed(f"The agent failed ({type(error).__name__}).") from None

    def _result(self, run: PreparedRun, status: RunStatus, output: str) -> RunResult:
        ctx = run.ctx
        return RunResult(
            run_id=ctx.run_id,
            agent=ctx.agent,
            session_id=ctx.session_id,
            status=status,
            output=output,
            message={"role": "assistant", "content": output},
            tool_calls=ctx.tool_calls,
            steps=ctx.steps,
            usage=ctx.usage,
            cost_usd=ctx.cost_usd,
            started_at=run.started_at,
            duration_ms=round((time.perf_counter() - run.started) * 1000, 3),
            trace_id=ctx.trace_id,
        )

    async def _fail(self, run: PreparedRun, error: PlatformError) -> None:
        await self._finish(run, "failed", error)
        run.ctx.emit(
            RunError(
                run_id=run.ctx.run_id,
                message=error.message,
                code=error.code,
                status=error.status_code,
            )
        )

    async def _finish(
        self, run: PreparedRun, status: RunStatus, error: PlatformError | None
    ) -> None:
        """Record how the run ended; shielded, so a cancelled run is still recorded. A record
        that cannot be written is logged: the answer stands, and the gateway has metered it."""
        ctx = run.ctx
        duration = round((time.perf_counter() - run.started) * 1000, 3)
        code = error.code if error else None
        logger.info(
            "agent run",
            extra={"agent": ctx.agent, "run": ctx.run_id, "status": status, "code": code},
        )
        try:
            await asyncio.shield(self._store.finished(ctx, status, error, duration))
        except Exception as failure:
            logger.error("run record not written", exc_info=failure, extra={"run": ctx.run_id})


def _content(request: InvokeRequest) -> object:
    if isinstance(request.message, str):
        return request.message
    return [part.model_dump(exclude_none=True) for part in request.message]
