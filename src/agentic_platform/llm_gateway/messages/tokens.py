"""``count_tokens``: the prompt tokens a Messages request would use.

Where the model's first deployment can count them itself (the ``local`` provider, with the
model's own chat template and tokenizer) that count is returned; elsewhere it is the
estimate the metering uses for a call whose provider reported no usage
(:func:`~agentic_platform.governance.metering.prompt_estimate`: about three characters a
token, plus a few tokens a message), which counts high."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from agentic_platform.governance.metering import prompt_estimate
from agentic_platform.llm_gateway.schemas import ChatCompletionRequest
from agentic_platform.llm_gateway.service import LLMGateway


@runtime_checkable
class TokenCounter(Protocol):
    async def count_prompt_tokens(self, request: ChatCompletionRequest) -> int: ...


async def count_prompt_tokens(gateway: LLMGateway, request: ChatCompletionRequest) -> int:
    provider = gateway.chat_provider(request.model)
    if isinstance(provider, TokenCounter):
        return await provider.count_prompt_tokens(request)
    return prompt_estimate(request)
