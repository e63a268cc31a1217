"""Platform overhead per agent step, side by side with the same loop run by the client.

One pair per round, the order alternating: ``diy-agent`` invoked through ``/agents/v1``
(its N model calls go to the gateway in the platform's process, its N - 1 calculator calls
run in the tool box, and the run, its steps and the user's usage are recorded), and the same
loop run here: N calls of the gateway's ``/llm/v1/chat/completions`` over HTTP with the same
messages and tool definitions, running the same calculator in between. The model is the
scripted ``test`` provider (``bench/agents/scripted.py``), so model time is next to nothing
and the difference of a pair, divided by N, is what the agent platform adds to each step.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import httpx
import orjson

from agentic_platform.agents.diy.agent import SYSTEM_PROMPT, DiyAgent
from agentic_platform.agents.tools.base import Tool
from agentic_platform.agents.tools.builtin import ToolSources, builtin_tools
from agentic_platform.settings import AgentsSettings

JSON = {"Content-Type": "application/json"}


@dataclass
class Overhead:
    steps: int
    agent: list[float] = field(default_factory=list)
    """Seconds per agent run (client's view)."""
    direct: list[float] = field(default_factory=list)
    """Seconds per direct loop (client's view)."""
    failures: dict[str, int] = field(default_factory=lambda: {"agent": 0, "direct": 0})
    differed: int = 0
    """Pairs whose model calls did not add up to the same prompt tokens (not the same loop)."""

    def per_step(self) -> list[float]:
        """Seconds the agent took beyond the direct loop, per model step, pair by pair."""
        return [(a - d) / self.steps for a, d in zip(self.agent, self.direct, strict=True)]


class Failed(Exception):
    pass


def diy_tools(http: httpx.AsyncClient) -> list[Tool]:
    """The tools ``diy-agent`` offers when it has no knowledge base and no memory (the
    calculator, the clock and the weather; ``http`` is the weather's, never called here)."""
    sources = ToolSources("diy-agent", [], None, None, http, AgentsSettings())
    return builtin_tools(DiyAgent.tools, sources)


Timed = tuple[float, int]
"""Seconds taken, and the prompt tokens of its model calls (the same loop sends the same)."""


async def agent_run(session: aiohttp.ClientSession, base: str, key: str, steps: int) -> Timed:
    body = orjson.dumps({"message": f"steps {steps}"})
    headers = {**JSON, "Authorization": f"Bearer {key}"}
    started = time.perf_counter()
    async with session.post(f"{base}/agents/v1/diy-agent/invoke", data=body, headers=headers) as r:
        payload = await r.read()
    took = time.perf_counter() - started
    if r.status != 200:
        raise Failed(f"agent: HTTP {r.status} {payload[:200]!r}")
    answer = orjson.loads(payload)
    models = sum(step["kind"] == "model" for step in answer["steps"])
    if models != steps or len(answer["tool_calls"]) != steps - 1:
        raise Failed(f"agent: {models} model calls, {len(answer['tool_calls'])} tool calls")
    return took, int(answer["usage"]["prompt_tokens"])


async def direct_loop(
    session: aiohttp.ClientSession,
    base: str,
    key: str,
    model: str,
    steps: int,
    tools: list[Tool],
    max_tokens: int | None,
) -> Timed:
    """The diy-agent's loop, run by the client against the gateway."""
    definitions = [tool.definition() for tool in tools]
    by_name = {tool.name: tool for tool in tools}
    headers = {**JSON, "Authorization": f"Bearer {key}"}
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": f"steps {steps}"},
    ]
    calls = prompt_tokens = 0
    started = time.perf_counter()
    while True:
        request: dict[str, Any] = {"model": model, "messages": messages, "tools": definitions}
        if max_tokens is not None:
            request["max_tokens"] = max_tokens
        url = f"{base}/llm/v1/chat/completions"
        async with session.post(url, data=orjson.dumps(request), headers=headers) as r:
            payload = await r.read()
        if r.status != 200:
            raise Failed(f"direct: HTTP {r.status} {payload[:200]!r}")
        calls += 1
        completion = orjson.loads(payload)
        prompt_tokens += completion["usage"]["prompt_tokens"]
        reply = completion["choices"][0]["message"]
        if not reply.get("tool_calls"):
            break
        messages.append({k: v for k, v in reply.items() if v is not None})
        for call in reply["tool_calls"]:
            tool = by_name[call["function"]["name"]]
            result = await tool.call(orjson.loads(call["function"]["arguments"]))
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": result})
    took = time.perf_counter() - started
    if calls != steps:
        raise Failed(f"direct: {calls} model calls, expected {steps}")
    return took, prompt_tokens


async def measure(
    base: str,
    key: str,
    *,
    model: str,
    steps: int,
    runs: int,
    warmup: int,
    max_tokens: int | None,
) -> Overhead:
    """``runs`` pairs after ``warmup`` unmeasured ones, on keep-alive connections."""
    result = Overhead(steps)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as session, httpx.AsyncClient() as http:
        tools = diy_tools(http)
        for index in range(warmup + runs):

            async def agent() -> Timed:
                return await agent_run(session, base, key, steps)

            async def direct() -> Timed:
                return await direct_loop(session, base, key, model, steps, tools, max_tokens)

            order = [("agent", agent), ("direct", direct)]
            if index % 2:
                order.reverse()
            took: dict[str, Timed] = {}
            for name, run in order:
                try:
                    took[name] = await run()
                except (Failed, aiohttp.ClientError, TimeoutError) as error:
                    result.failures[name] += 1
                    if sum(result.failures.values()) == 1:
                        print(f"  first failure: {error}", flush=True)
            if index >= warmup and len(took) == 2:
                result.agent.append(took["agent"][0])
                result.direct.append(took["direct"][0])
                result.differed += took["agent"][1] != took["direct"][1]
    return result
