"""Append to searchable: how long a turn takes to be found by its user's search while
writers append flat out.

A probe appends a turn that holds a word no other turn has, then searches for it (as the
same user, top 10) until a hit's sources name that turn; the time from the append's answer
to that search's answer is one sample. Probes follow each other for as long as the load
runs."""

from __future__ import annotations

import asyncio
import secrets
import time

import httpx

WORDS = ("amber", "basalt", "cobalt", "dune", "ember", "fjord", "garnet", "harbor", "indigo")
POLL_SECONDS = 0.05
GIVE_UP_SECONDS = 300.0


async def probe_once(http: httpx.AsyncClient, session: str) -> float:
    """Seconds from one probe turn's append to the first search that finds it."""
    token = f"{secrets.choice(WORDS)}{secrets.token_hex(4)}"
    body = {"role": "user", "content": f"My locker code word is {token} for the gym."}
    response = await http.post(f"/memory/v1/sessions/{session}/messages", json=body)
    response.raise_for_status()
    message_id = response.json()["id"]
    appended = time.perf_counter()
    while time.perf_counter() - appended < GIVE_UP_SECONDS:
        found = await http.post(
            "/memory/v1/memories/search", json={"query": f"locker code {token}", "top_k": 10}
        )
        found.raise_for_status()
        sources = {
            source.get("message_id") for hit in found.json()["data"] for source in hit["sources"]
        }
        if message_id in sources:
            return time.perf_counter() - appended
        await asyncio.sleep(POLL_SECONDS)
    return GIVE_UP_SECONDS


async def probe_while(http: httpx.AsyncClient, session: str, loading: asyncio.Event) -> list[float]:
    """Probe after probe until ``loading`` is cleared; the samples in seconds."""
    samples: list[float] = []
    while loading.is_set():
        samples.append(await probe_once(http, session))
    return samples
