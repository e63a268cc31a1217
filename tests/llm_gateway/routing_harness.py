"""A gateway over a real loopback fake upstream whose deployments are paths of it, for the
routing tests: each deployment answers (or fails) as the test scripts it, and counts its
calls."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

from aiohttp import web

from agentic_platform.llm_gateway.breaker import CooldownSettings
from agentic_platform.llm_gateway.catalog import Deployment, ModelCatalog, ModelEntry
from agentic_platform.llm_gateway.resilience import Backoff
from agentic_platform.llm_gateway.schemas import ChatCompletionRequest
from agentic_platform.llm_gateway.service import LLMGateway
from agentic_platform.testing.upstream import FakeUpstream


def completion(name: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{name}",
        "object": "chat.completion",
        "created": 1,
        "model": "upstream-model",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": name}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }


class Deployments:
    """Named deployments on one fake upstream: ``status[name]`` is what each answers
    (200 or an error status), ``delay[name]`` how long it takes; ``calls`` counts them."""

    def __init__(self, upstream: FakeUpstream, *names: str) -> None:
        self.upstream = upstream
        self.status = dict.fromkeys(names, 200)
        self.delay = dict.fromkeys(names, 0.0)
        self.calls: Counter[str] = Counter()
        for name in names:
            upstream.on(f"/{name}/v1/chat/completions", self._handler(name))

    def _handler(self, name: str) -> Callable[[web.Request], Any]:
        async def handler(_request: web.Request) -> web.StreamResponse:
            self.calls[name] += 1
            if self.delay[name]:
                await asyncio.sleep(self.delay[name])
            status = self.status[name]
            if status == 200:
                return web.json_response(completion(name))
            return web.json_response({"error": {"message": f"{name} says {status}"}}, status=status)

        return handler

    def deployment(self, name: str, **fields: Any) -> Deployment:
        return Deployment(
            provider="openai",
            model="upstream-model",
            api_base=f"{self.upstream.base_url}/{name}/v1",
            max_retries=0,
            timeout_seconds=5,
            **fields,
        )


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def gateway(
    *entries: ModelEntry,
    cooldown: CooldownSettings | None = None,
    clock: Callable[[], float] | None = None,
) -> LLMGateway:
    extra: dict[str, Any] = {"clock": clock} if clock is not None else {}
    return LLMGateway(ModelCatalog(list(entries)), Backoff(0.001, 0.01), cooldown=cooldown, **extra)


def ask(model: str) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate(
        {"model": model, "messages": [{"role": "user", "content": "ping"}]}
    )
