"""Retries with jittered exponential backoff (honouring Retry-After) and fallback across an
alias's deployments."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from agentic_platform.errors import UpstreamAuthError, UpstreamError, UpstreamTimeoutError
from agentic_platform.llm_gateway.catalog import Deployment

logger = logging.getLogger("agentic_platform.llm_gateway")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Backoff:
    base_seconds: float = 0.25
    max_seconds: float = 8.0

    def delay(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds to wait before retry number ``attempt`` (1-based), or None when the
        upstream asked for a longer pause than we are willing to wait (fall back instead)."""
        if retry_after is not None:
            return retry_after if retry_after <= self.max_seconds else None
        jittered: float = self.base_seconds * (2 ** (attempt - 1)) * random.uniform(0.5, 1.5)
        return min(jittered, self.max_seconds)


def _falls_back(error: UpstreamError) -> bool:
    """Retryable failures and rejected credentials move on to the next deployment; a request
    the upstream found invalid would fail the same way everywhere."""
    return error.retryable or isinstance(error, UpstreamAuthError)


async def call_with_fallback(
    deployments: list[Deployment],
    attempt: Callable[[int, Deployment], Awaitable[T]],
    backoff: Backoff,
) -> tuple[T, Deployment]:
    """Run ``attempt(index, deployment)`` on each deployment in turn until one succeeds."""
    last_error: UpstreamError | None = None  # built only on failure: this is the hot path
    for index, deployment in enumerate(deployments):
        for retry in range(deployment.max_retries + 1):
            try:
                async with asyncio.timeout(deployment.timeout_seconds):
                    return await attempt(index, deployment), deployment
            except TimeoutError:
                last_error = UpstreamTimeoutError(
                    f"The model deployment did not answer within {deployment.timeout_seconds:g}s."
                )
            except UpstreamError as error:
                last_error = error
            logger.warning(
                "upstream call failed",
                extra={
                    "deployment": deployment.name,
                    "attempt": retry + 1,
                    "error_code": last_error.code,
                },
            )
            if not last_error.retryable or retry == deployment.max_retries:
                break
            delay = backoff.delay(retry + 1, last_error.retry_after)
            if delay is None:
                break
            await asyncio.sleep(delay)
        if last_error is not None and not _falls_back(last_error):
            raise last_error
    raise last_error or UpstreamError("The model has no deployments.")
