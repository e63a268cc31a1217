"""The packaged local model's tokens/s through an agent versus the model called directly.

Rounds alternate who goes first: ``bench-plain`` (one streamed model call, no tools:
``bench/agents/scripted.py``) through ``/agents/v1/bench-plain/stream``, and the same
request (system prompt, message, ``temperature`` 0, the same ``max_tokens``) streamed from
the gateway's ``/llm/v1/chat/completions``. The clock runs from sending the request; the
decode rate is the tokens after the first over the time from the first text to the last, and
the end-to-end rate all tokens over the time to the last text.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field

import aiohttp
import orjson

from bench.agents.scripted import PLAIN_SYSTEM

PROMPT = "Tell me a long story about a lighthouse keeper and a storm."


@dataclass(frozen=True, slots=True)
class Generation:
    tokens: int
    first: float
    """Seconds from sending to the first text."""
    last: float
    """Seconds from sending to the last text."""

    @property
    def decode_rate(self) -> float:
        spread = self.last - self.first
        return (self.tokens - 1) / spread if self.tokens > 1 and spread > 0 else float("nan")

    @property
    def end_to_end_rate(self) -> float:
        return self.tokens / self.last if self.last > 0 else float("nan")


@dataclass
class TokenRates:
    model: str
    max_tokens: int
    agent: list[Generation] = field(default_factory=list)
    direct: list[Generation] = field(default_factory=list)

    @staticmethod
    def median(runs: list[Generation], rate: str) -> float:
        values = [getattr(run, rate) for run in runs]
        return statistics.median(values) if values else float("nan")


async def _events(response: aiohttp.ClientResponse) -> list[tuple[float, dict[str, object]]]:
    """Each ``data:`` payload of an SSE body with when it was read."""
    seen = []
    async for line in response.content:
        if line.startswith(b"data: ") and line.strip() != b"data: [DONE]":
            seen.append((time.perf_counter(), orjson.loads(line[6:])))
    return seen


async def through_agent(session: aiohttp.ClientSession, base: str, key: str) -> Generation:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    started = time.perf_counter()
    url = f"{base}/agents/v1/bench-plain/stream"
    async with session.post(url, data=orjson.dumps({"message": PROMPT}), headers=headers) as r:
        if r.status != 200:
            raise RuntimeError(f"agent: HTTP {r.status} {(await r.read())[:200]!r}")
        events = await _events(r)
    texts = [at for at, event in events if event["type"] == "text_delta" and event["text"]]
    done = next((event for _, event in events if event["type"] == "run_finished"), None)
    if done is None or not texts:
        raise RuntimeError(f"agent: the run did not finish with text ({events[-1:]})")
    usage = done["usage"]
    assert isinstance(usage, dict)
    return Generation(int(usage["completion_tokens"]), texts[0] - started, texts[-1] - started)


async def direct(
    session: aiohttp.ClientSession, base: str, key: str, model: str, max_tokens: int
) -> Generation:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    body = {
        "model": model,
        "messages": [
            {"role": "system", "content": PLAIN_SYSTEM},
            {"role": "user", "content": PROMPT},
        ],
        "temperature": 0,
        "max_tokens": max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    started = time.perf_counter()
    url = f"{base}/llm/v1/chat/completions"
    async with session.post(url, data=orjson.dumps(body), headers=headers) as r:
        if r.status != 200:
            raise RuntimeError(f"direct: HTTP {r.status} {(await r.read())[:200]!r}")
        chunks = await _events(r)
    texts = [
        at
        for at, chunk in chunks
        if chunk.get("choices") and chunk["choices"][0]["delta"].get("content")  # type: ignore[index]
    ]
    usage = next((chunk["usage"] for _, chunk in chunks if chunk.get("usage")), None)
    if usage is None or not texts:
        raise RuntimeError("direct: no text or no usage in the stream")
    assert isinstance(usage, dict)
    return Generation(int(usage["completion_tokens"]), texts[0] - started, texts[-1] - started)


async def measure(base: str, key: str, *, model: str, max_tokens: int, rounds: int) -> TokenRates:
    """One unmeasured pair (loads the model), then ``rounds`` pairs."""
    rates = TokenRates(model, max_tokens)
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for index in range(1 + rounds):
            if index % 2:
                first = await direct(session, base, key, model, max_tokens)
                second = await through_agent(session, base, key)
                pair = (second, first)
            else:
                agent = await through_agent(session, base, key)
                pair = (agent, await direct(session, base, key, model, max_tokens))
            if index:
                rates.agent.append(pair[0])
                rates.direct.append(pair[1])
    return rates
