"""Wraps each gateway call: admit it under the caller's plans, then settle the real usage
and append one row to the usage ledger, whatever the outcome."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from agentic_platform.auth.principal import Principal
from agentic_platform.db.base import utcnow
from agentic_platform.errors import PlatformError
from agentic_platform.governance.enforcement import Estimate, Ticket, UsageGovernor
from agentic_platform.governance.ledger import UsageEntry, UsageLedger
from agentic_platform.llm_gateway.catalog import Deployment, ModelEntry
from agentic_platform.llm_gateway.schemas import ChatCompletionChunk, Usage
from agentic_platform.logs import request_id_var


def estimate_call(entry: ModelEntry, body_bytes: int, output_tokens: int) -> Estimate:
    """Reserve generously: the request body's size stands for its prompt (about three bytes
    a token), the priciest deployment for its cost."""
    input_tokens = body_bytes // 3 + 1
    cost = max(d.cost_usd(input_tokens, output_tokens) for d in entry.deployments)
    return Estimate(input_tokens, output_tokens, cost)


@dataclass(slots=True)
class MeteredCall:
    metering: Metering
    principal: Principal
    endpoint: str
    model: str
    ticket: Ticket
    streamed: bool
    started: float
    done: bool = False

    @property
    def headers(self) -> dict[str, str]:
        return self.ticket.headers

    async def succeed(self, usage: Usage, deployment: Deployment) -> None:
        cached = usage.prompt_tokens_details.cached_tokens if usage.prompt_tokens_details else 0
        cost = deployment.cost_usd(usage.prompt_tokens, usage.completion_tokens)
        await self._finish(
            200, None, usage.prompt_tokens, usage.completion_tokens, cached, cost, deployment
        )

    async def fail(self, status: int, error_type: str | None) -> None:
        await self._finish(status, error_type, 0, 0, 0, 0.0, None)

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
                model=self.model,
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

    async def watch(
        self, chunks: AsyncIterator[ChatCompletionChunk], deployment: Deployment
    ) -> AsyncIterator[ChatCompletionChunk]:
        """Pass a stream through, settling when it ends (completed, failed or abandoned)."""
        usage: Usage | None = None
        try:
            async for chunk in chunks:
                if chunk.usage is not None:
                    usage = chunk.usage
                yield chunk
        except asyncio.CancelledError:
            await asyncio.shield(self.fail(499, "client_disconnected"))
            raise
        except PlatformError as error:
            await self.fail(error.status_code, error.code or error.error_type)
            raise
        except Exception:
            await self.fail(500, "server_error")
            raise
        finally:
            if not self.done:
                if usage is not None:
                    await self.succeed(usage, deployment)
                else:
                    await self.fail(499, "client_disconnected")


class Metering:
    def __init__(
        self, governor: UsageGovernor, ledger: UsageLedger, default_output_reservation: int = 1024
    ) -> None:
        self.governor = governor
        self.ledger = ledger
        self.default_output_reservation = default_output_reservation

    async def begin(
        self, principal: Principal, endpoint: str, model: str, estimate: Estimate, streamed: bool
    ) -> MeteredCall:
        started = time.perf_counter()
        try:
            ticket = await self.governor.admit(principal, model, estimate)
        except PlatformError as refusal:
            call = MeteredCall(
                self, principal, endpoint, model, Ticket(estimate), streamed, started
            )
            await call.fail(refusal.status_code, refusal.code or refusal.error_type)
            raise
        return MeteredCall(self, principal, endpoint, model, ticket, streamed, started)
