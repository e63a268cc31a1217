"""Wraps each gateway call: admit it under the caller's plans, then settle the real usage
and append one row to the usage ledger, whatever the outcome.

A call that does not end normally still settles what it used. A stream cut short (the client
hung up, the upstream failed, the call was cancelled) settles its prompt and the output
delivered so far; a non-streamed call whose client left while the upstream was generating
settles its prompt. The figures are the provider's where it reported them (the usage chunk,
or the local model's running count); otherwise they are counted here
(:func:`prompt_estimate`, :func:`output_estimate`), on the high side, and priced at the
deployment that served the call (the priciest of the alias when that is not known). A
non-streamed call that timed out upstream settles its prompt too: the upstream was still
generating, and bills for it.

With telemetry on, each call is also a ``chat {model}`` / ``embeddings {model}`` span
(:mod:`agentic_platform.telemetry.genai`), ended when the call settles, and its duration,
tokens and spend are recorded as metrics at the same moment; a refusal counts as a
rejection."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import orjson

from agentic_platform.auth.principal import Principal
from agentic_platform.db.base import utcnow
from agentic_platform.errors import PlatformError, UpstreamTimeoutError
from agentic_platform.governance.enforcement import Estimate, Ticket, UsageGovernor
from agentic_platform.governance.ledger import UsageEntry, UsageLedger
from agentic_platform.llm_gateway.catalog import Deployment, ModelEntry
from agentic_platform.llm_gateway.schemas import (
    AssistantMessage,
    ChatCompletionChunk,
    ChatCompletionRequest,
    EmbeddingRequest,
    TextPart,
    Usage,
)
from agentic_platform.logs import request_id_var
from agentic_platform.telemetry.genai import ModelCallSpan, provider_name, start_model_call
from agentic_platform.telemetry.runtime import Telemetry

CHARS_PER_TOKEN = 3
"""Characters counted as one token where the provider reports no usage. Tokenizers average
about four characters a token on English text and code, so this counts high."""
TOKENS_PER_MESSAGE = 4
"""The chat template's tokens around each message."""
TOKENS_PER_IMAGE = 1_500
"""An image in a prompt (a large picture at high detail costs about 1,100 on OpenAI)."""
COST_HEADER = "X-Agentic-Cost-USD"
"""The response header with a call's cost in USD, the figure its ledger row holds."""


def estimate_call(entry: ModelEntry, body_bytes: int, output_tokens: int) -> Estimate:
    """Reserve generously: the request body's size stands for its prompt (about three bytes
    a token), the priciest deployment for its cost."""
    input_tokens = body_bytes // 3 + 1
    cost = max(d.cost_usd(input_tokens, output_tokens) for d in entry.deployments)
    return Estimate(input_tokens, output_tokens, cost)


def counted_tokens(chars: int) -> int:
    """Tokens in ``chars`` characters of text, rounded up (see :data:`CHARS_PER_TOKEN`)."""
    return -(-chars // CHARS_PER_TOKEN)


def prompt_estimate(request: ChatCompletionRequest | EmbeddingRequest) -> int:
    """The prompt tokens of a request, counted from its text: messages, earlier tool calls,
    tool definitions and output schema, plus :data:`TOKENS_PER_MESSAGE` a message and
    :data:`TOKENS_PER_IMAGE` a picture. Only called for a call that did not report usage."""
    if isinstance(request, EmbeddingRequest):
        tokens = request.tokens
        if tokens is not None:
            return sum(len(item) for item in tokens)
        return sum(counted_tokens(len(text)) for text in request.texts)
    chars = images = 0
    for message in request.messages:
        content = message.content
        if isinstance(content, str):
            chars += len(content)
        elif content:
            for part in content:
                if isinstance(part, TextPart):
                    chars += len(part.text)
                else:
                    images += 1
        if isinstance(message, AssistantMessage):
            for call in message.tool_calls or []:
                chars += len(call.function.name) + len(call.function.arguments)
    if request.tools or request.response_format:
        extras = request.model_dump(include={"tools", "response_format"}, exclude_none=True)
        chars += len(orjson.dumps(extras))
    messages = len(request.messages)
    return counted_tokens(chars) + TOKENS_PER_MESSAGE * messages + TOKENS_PER_IMAGE * images


def output_estimate(chars: int, chunks: int) -> int:
    """Output tokens of a stream that delivered ``chars`` characters in ``chunks`` chunks
    with output: the higher of the character count and the chunk count (a provider sends at
    least one token a chunk)."""
    return max(counted_tokens(chars), chunks)


@dataclass(slots=True)
class MeteredCall:
    metering: Metering
    principal: Principal
    endpoint: str
    entry: ModelEntry
    request: ChatCompletionRequest | EmbeddingRequest
    ticket: Ticket
    streamed: bool
    started: float
    done: bool = False
    span: ModelCallSpan | None = None
    """The call's span while telemetry records it; the router adds the answer to it."""

    @property
    def headers(self) -> dict[str, str]:
        return self.ticket.headers

    def answered_headers(self, cost: float) -> dict[str, str]:
        """The headers of a whole answer: the plan's rate-limit headers and its cost."""
        return {**self.ticket.headers, COST_HEADER: repr(cost)}

    async def succeed(self, usage: Usage, deployment: Deployment) -> float:
        """Settles a call that completed; returns its cost (USD) as recorded."""
        cached = usage.prompt_tokens_details.cached_tokens if usage.prompt_tokens_details else 0
        cost = deployment.cost_usd(usage.prompt_tokens, usage.completion_tokens)
        await self._finish(
            200, None, usage.prompt_tokens, usage.completion_tokens, cached, cost, deployment
        )
        return cost

    async def fail(self, status: int, error_type: str | None) -> None:
        """A call refused or failed before the upstream used anything: nothing to settle."""
        await self._finish(status, error_type, 0, 0, 0, 0.0, None)

    async def failed(self, error: PlatformError) -> None:
        """A non-streamed call that raised. An upstream that timed out was still at work
        (and bills for it), so its prompt is settled; any other failure settles nothing."""
        status, code = error.status_code, error.code or error.error_type
        if isinstance(error, UpstreamTimeoutError):
            await self.abandon(status, code)
        else:
            await self.fail(status, code)

    async def abandon(self, status: int, error_type: str | None) -> None:
        """A call whose upstream was at work when it ended (the client left): its prompt is
        settled, counted from the request and priced at the alias's priciest deployment."""
        prompt = prompt_estimate(self.request)
        cost = max(d.cost_usd(prompt, 0) for d in self.entry.deployments)
        await self._finish(status, error_type, prompt, 0, 0, cost, None)

    async def cut_short(
        self,
        status: int,
        error_type: str | None,
        deployment: Deployment,
        reported: Usage | None,
        chars: int,
        chunks: int,
    ) -> None:
        """A stream that ended without its usage chunk: the provider's running count where
        it gave one, else the prompt and the output delivered so far, counted here."""
        if reported is not None:
            prompt, output = reported.prompt_tokens, reported.completion_tokens
        else:
            prompt, output = prompt_estimate(self.request), output_estimate(chars, chunks)
        cost = deployment.cost_usd(prompt, output)
        await self._finish(status, error_type, prompt, output, 0, cost, deployment)

    async def _finish(
        self,
        status: int,
        error_type: str | None,
        input_tokens: int,
        output_tokens: int,
        cached: int,
        cost: float,
        deployment: Deployment | None,
    ) -> None:
        if self.done:
            return
        self.done = True
        self.metering.ledger.record(
            UsageEntry(
                request_id=request_id_var.get() or uuid.uuid4().hex,
                time=utcnow(),
                principal_id=self.principal.id,
                key_id=self.principal.key_id,
                team_id=self.principal.team_id,
                acting_via=self.principal.acting_via,
                endpoint=self.endpoint,
                model=self.entry.alias,
                deployment=deployment.name if deployment else None,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                cached_tokens=cached,
                cost_usd=cost,
                latency_ms=round((time.perf_counter() - self.started) * 1000, 3),
                status=status,
                error_type=error_type,
                streamed=self.streamed,
            )
        )
        self.metering.governor.settle(self.ticket, input_tokens, output_tokens, cost)
        if self.span is not None:
            self.span.end(status, error_type, deployment, input_tokens, output_tokens, cost)
        metrics = self.metering.telemetry.metrics
        if metrics is not None:
            metrics.model_call(
                self.endpoint,
                provider_name(deployment) if deployment is not None else "",
                self.entry.alias,
                error_type if status >= 400 else None,
                time.perf_counter() - self.started,
                input_tokens,
                output_tokens,
                cost,
            )

    async def watch(
        self, chunks: AsyncIterator[ChatCompletionChunk], deployment: Deployment
    ) -> AsyncIterator[ChatCompletionChunk]:
        """Pass a stream through, settling when it ends (completed, failed or abandoned).

        Counting what was delivered costs a few attribute reads a chunk; the estimate itself
        is made only for a stream that ends without its usage chunk."""
        usage = reported = None
        chars = chunks_out = 0
        status: int = 499
        error_type: str | None = "client_disconnected"
        span = self.span
        try:
            async for chunk in chunks:
                if span is not None:
                    span.chunk(chunk)
                if chunk.usage is not None:
                    usage = chunk.usage  # priced as succeed() will record it
                    usage.cost = deployment.cost_usd(usage.prompt_tokens, usage.completion_tokens)
                elif chunk.choices:
                    if chunk.usage_so_far is not None:
                        reported = chunk.usage_so_far
                    size = _output_chars(chunk)
                    if size:
                        chars += size
                        chunks_out += 1
                yield chunk
            status, error_type = 200, None  # ended without a usage chunk: counted below
        except PlatformError as error:
            status, error_type = error.status_code, error.code or error.error_type
            raise
        except Exception:
            status, error_type = 500, "server_error"
            raise
        finally:
            if not self.done:
                if usage is not None and status == 200:
                    await self.succeed(usage, deployment)
                else:  # settling never suspends, so a cancellation cannot interrupt it
                    await self.cut_short(
                        status, error_type, deployment, usage or reported, chars, chunks_out
                    )


def _output_chars(chunk: ChatCompletionChunk) -> int:
    """Characters of output a chunk carries: text, refusal, tool names and arguments."""
    size = 0
    for choice in chunk.choices:
        delta = choice.delta
        if delta.content:
            size += len(delta.content)
        if delta.refusal:
            size += len(delta.refusal)
        for call in delta.tool_calls or ():
            function = call.function
            size += len(function.name or "") + len(function.arguments or "")
    return size


class Metering:
    def __init__(
        self,
        governor: UsageGovernor,
        ledger: UsageLedger,
        default_output_reservation: int = 1024,
        *,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.governor = governor
        self.ledger = ledger
        self.default_output_reservation = default_output_reservation
        self.telemetry = telemetry or Telemetry()

    async def begin(
        self,
        principal: Principal,
        endpoint: str,
        entry: ModelEntry,
        request: ChatCompletionRequest | EmbeddingRequest,
        estimate: Estimate,
        streamed: bool,
    ) -> MeteredCall:
        started = time.perf_counter()
        telemetry = self.telemetry
        span = None
        if telemetry.tracer is not None:
            span = start_model_call(
                telemetry.tracer, endpoint, request, principal.id, telemetry.capture_content
            )
        try:
            ticket = await self.governor.admit(principal, entry.alias, estimate)
        except PlatformError as refusal:
            call = MeteredCall(
                self, principal, endpoint, entry, request, Ticket(estimate), streamed, started
            )
            call.span = span
            code = refusal.code or refusal.error_type
            if telemetry.metrics is not None and refusal.status_code == 429:
                telemetry.metrics.rejection(code, entry.alias)
            await call.fail(refusal.status_code, code)
            raise
        return MeteredCall(
            self, principal, endpoint, entry, request, ticket, streamed, started, span=span
        )
