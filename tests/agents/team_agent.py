"""A team's own agent, as a team would write it: hosted through ``agents.modules`` or an
entry point."""

from __future__ import annotations

from typing import Any

from agentic_platform.agents.context import RunContext
from agentic_platform.agents.protocol import TEXT_INPUT


class ShoutingAgent:
    name = "team-shout"
    description = "Answers with the model's reply in capitals."
    kind = "agent"
    tools: tuple[str, ...] = ()
    input_schema: dict[str, Any] = TEXT_INPUT

    async def run(self, ctx: RunContext) -> str:
        completion = await ctx.chat(messages=ctx.messages())
        return (completion.choices[0].message.content or "").upper()


def make_agent() -> ShoutingAgent:
    return ShoutingAgent()


class NotAnAgent:
    name = "nothing"


def failing_factory() -> ShoutingAgent:
    raise RuntimeError("cannot build")


class UnknownToolAgent(ShoutingAgent):
    name = "team-tools"
    tools = ("teleport",)


class SdkAgent:
    """An agent on the official OpenAI SDK, pointed at the gateway through the context."""

    name = "team-sdk"
    description = "Asks the model through openai.AsyncOpenAI, streamed."
    kind = "agent"
    tools: tuple[str, ...] = ()
    input_schema: dict[str, Any] = TEXT_INPUT

    async def run(self, ctx: RunContext) -> str:
        import openai

        client = openai.AsyncOpenAI(
            base_url=ctx.gateway.base_url,
            api_key=ctx.gateway.api_key,
            http_client=ctx.gateway_http_client(),
            max_retries=0,
        )
        stream = await client.chat.completions.create(
            model=ctx.model,
            messages=ctx.messages(),  # type: ignore[arg-type]
            stream=True,
            stream_options={"include_usage": True},
        )
        text = []
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                text.append(chunk.choices[0].delta.content)
            if chunk.usage is not None:
                ctx.record_usage(
                    ctx.model, chunk.usage.prompt_tokens, chunk.usage.completion_tokens
                )
        return "".join(text)
