"""Retries with jittered exponential backoff (honouring Retry-After) and fallback across an
alias's deployments, in the order the balancer chose (:mod:`.balancing`).

Which failure does what:

* retryable ones (rate limits, 5xx, broken connections, timeouts) are retried on the same
  deployment up to its ``max_retries``, then fall back to the next deployment;
* rejected credentials and an answer the gateway cannot read (a 2xx that is not the
  expected JSON) fall back at once: another deployment may well be fine, but asking the same
  one again would fail, or be billed, the same way;
* a request the upstream found invalid is raised at once: it would fail everywhere.

The error of the last attempt is what the client sees.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
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


BAD_RESPONSE = "upstream_bad_response"


def falls_back(error: UpstreamError) -> bool:
    """Retryable failures, rejected credentials and unreadable answers move on to the next
    deployment; a request the upstream found invalid would fail the same way everywhere."""
    return error.retryable or isinstance(error, UpstreamAuthError) or error.code == BAD_RESPONSE


FailureObserver = Callable[[int, Deployment, UpstreamError], None]


async def call_with_fallback(
    deployments: list[Deployment],
    attempt: Callable[[int, Deployment], Awaitable[T]],
    backoff: Backoff,
    on_failure: FailureObserver | None = None,
    order: Sequence[int] | None = None,
) -> tuple[T, Deployment]:
    """Run ``attempt(index, deployment)`` on each deployment in turn (the indices in
    ``order``, else the listed order) until one succeeds; ``on_failure(index, deployment,
    error)`` hears of every failed attempt (for metrics and cooldowns)."""
    last_error: UpstreamError | None = None  # built only on failure: this is the hot path
    for index in range(len(deployments)) if order is None else order:
        deployment = deployments[index]
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
            if on_failure is not None:
                on_failure(index, deployment, last_error)
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
        if last_error is not None and not falls_back(last_error):
            raise last_error
    raise last_error or UpstreamError("The model has no deployments.")
