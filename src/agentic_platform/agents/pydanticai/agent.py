"""``pydanticai-agent``: a PydanticAI ``Agent`` on the platform's gateways.

PydanticAI's OpenAI chat model talks to the LLM gateway's OpenAI-compatible API as the run's
user (``ctx.gateway``, in process when the gateway is), so the gateway authenticates, limits
and meters every request as it does any other. The rest is the platform's:

* the run's tools are a PydanticAI toolset whose calls go through ``ctx.call_tool``
  (recorded, timed, capped, sent as events);
* the session's history becomes PydanticAI's message history, the system prompt (with the
  recalled memories) its instructions;
* every model request is recorded with ``ctx.record_usage`` (a ``model`` step with its
  usage and cost) by a per-run capability, which also applies the caller's key allowlist;
* a streamed run streams the model's text as ``text_delta`` events;
* ``agents.max_steps`` is PydanticAI's request limit, reported as
  :class:`~agentic_platform.agents.protocol.StepLimitReached`;
* a gateway error keeps the gateway's status, type and code.

A cancelled run (its caller left) cancels PydanticAI's run: nothing here catches
``CancelledError``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterable
from typing import Any

import openai
from pydantic_ai import Agent as PydanticAgent
from pydantic_ai import ModelSettings, UsageLimits
from pydantic_ai import RunContext as AgentRunContext
from pydantic_ai.agent import EventStreamHandler
from pydantic_ai.capabilities import AbstractCapability
from pydantic_ai.exceptions import ModelHTTPError, UsageLimitExceeded
from pydantic_ai.messages import (
    AgentStreamEvent,
    ModelResponse,
    PartDeltaEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
)
from pydantic_ai.models import ModelRequestContext
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

from agentic_platform.agents.context import RunContext, check_key_allows
from agentic_platform.agents.diy.agent import SYSTEM_PROMPT, DiyAgent
from agentic_platform.agents.events import TextDelta
from agentic_platform.agents.protocol import TEXT_INPUT, AgentKind, StepLimitReached
from agentic_platform.agents.pydanticai.history import conversation
from agentic_platform.agents.pydanticai.toolset import ToolBoxToolset
from agentic_platform.clients.llm import GatewayClientError


class PydanticAIAgent:
    name = "pydanticai-agent"
    description = "A PydanticAI agent: diy-agent's tools and memory, PydanticAI's agent loop."
    kind: AgentKind = "agent"
    tools: tuple[str, ...] = DiyAgent.tools
    input_schema: dict[str, Any] = TEXT_INPUT

    def __init__(self) -> None:
        self._agent: PydanticAgent[None, str] = PydanticAgent(output_type=str, name=self.name)

    async def run(self, ctx: RunContext) -> str:
        chat = conversation(ctx.messages(SYSTEM_PROMPT))
        try:
            result = await self._agent.run(
                chat.prompt,
                message_history=chat.history or None,
                instructions=chat.instructions,
                model=gateway_model(ctx),
                toolsets=[ToolBoxToolset(ctx)] if len(ctx.tools) else None,
                capabilities=[RecordedRequests(ctx)],
                model_settings=ModelSettings(max_tokens=ctx.limits.max_tokens)
                if ctx.limits.max_tokens is not None
                else None,
                usage_limits=UsageLimits(request_limit=ctx.limits.max_steps),
                retries=ctx.limits.max_steps,
                event_stream_handler=_text_deltas(ctx) if ctx.streaming else None,
            )
        except UsageLimitExceeded:
            raise StepLimitReached(
                f"The agent made {ctx.model_calls} model calls without finishing "
                f"(agents.max_steps is {ctx.limits.max_steps}).",
            ) from None
        except ModelHTTPError as error:
            raise gateway_error(error) from None
        return result.output


def gateway_model(ctx: RunContext) -> OpenAIChatModel:
    """PydanticAI's OpenAI chat model for ``ctx.model``, on the gateway as the run's user.
    The gateway retries and falls back itself, so the SDK does not retry."""
    client = openai.AsyncOpenAI(
        base_url=ctx.gateway.base_url,
        api_key=ctx.gateway.api_key,
        # openai takes a (legacy) httpx client as well as its own httpx2 one
        http_client=ctx.gateway_http_client(),  # type: ignore[arg-type]
        max_retries=0,
    )
    return OpenAIChatModel(ctx.model, provider=OpenAIProvider(openai_client=client))


def gateway_error(error: ModelHTTPError) -> GatewayClientError:
    """The gateway's error envelope (status, message, type, code, param) as a platform
    error, so the run fails as a ``ctx.chat`` call would (e.g. a 429 budget refusal)."""
    body = error.body if isinstance(error.body, dict) else {}
    # the SDK hands over the envelope's "error" object; a raw envelope is read the same way
    found = body["error"] if isinstance(body.get("error"), dict) else body
    failure = GatewayClientError(
        str(found.get("message") or f"HTTP {error.status_code}"),
        code=found.get("code"),
        param=found.get("param"),
    )
    failure.status_code = error.status_code
    if isinstance(found.get("type"), str):
        failure.error_type = found["type"]
    return failure


class RecordedRequests(AbstractCapability[None]):
    """Puts each model request of one run in the run record (``ctx.record_usage``) and
    refuses a model the caller's key may not use before it is asked."""

    def __init__(self, ctx: RunContext) -> None:
        self._ctx = ctx
        self._started = time.perf_counter()

    async def prepare_model_request(
        self, ctx: AgentRunContext[None], request_context: ModelRequestContext
    ) -> ModelRequestContext:
        check_key_allows(self._ctx.principal, self._ctx.model)
        self._started = time.perf_counter()
        return request_context

    async def after_model_request(
        self,
        ctx: AgentRunContext[None],
        *,
        request_context: ModelRequestContext,
        response: ModelResponse,
    ) -> ModelResponse:
        self._ctx.record_usage(
            self._ctx.model,
            response.usage.input_tokens,
            response.usage.output_tokens,
            duration_ms=round((time.perf_counter() - self._started) * 1000, 3),
        )
        return response


def _text_deltas(ctx: RunContext) -> EventStreamHandler[None]:
    """Sends the model's text to the caller of a streamed run as it comes."""

    async def handle(_run: AgentRunContext[None], events: AsyncIterable[AgentStreamEvent]) -> None:
        async for event in events:
            text = None
            if isinstance(event, PartStartEvent) and isinstance(event.part, TextPart):
                text = event.part.content
            elif isinstance(event, PartDeltaEvent) and isinstance(event.delta, TextPartDelta):
                text = event.delta.content_delta
            if text:
                ctx.emit(TextDelta(text=text))

    return handle
