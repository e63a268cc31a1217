"""The boto3 side both Bedrock providers share: one ``bedrock-runtime`` client per provider,
its own worker threads (boto3 blocks), and the deployment options they are built from."""

from __future__ import annotations

import asyncio
import contextvars
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, NoRegionError

from agentic_platform.errors import ConfigurationError
from agentic_platform.llm_gateway.catalog import Deployment
from agentic_platform.llm_gateway.providers.bedrock_errors import TRANSPORT_ERRORS, upstream_error

if TYPE_CHECKING:
    from mypy_boto3_bedrock_runtime import BedrockRuntimeClient

T = TypeVar("T")

DEFAULT_CONCURRENCY = 32


def positive_int(deployment: Deployment, key: str, default: int | None) -> int | None:
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


class BedrockCaller:
    """The client, the worker threads, and the error translation both providers share."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.concurrency = positive_int(deployment, "max_concurrency", DEFAULT_CONCURRENCY) or 1
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
