"""The priority worker: urgent calls first, then arrival order; cancelled calls skipped."""

from __future__ import annotations

import asyncio
import threading

import pytest

from agentic_platform.llm_gateway.providers.priority_worker import BULK, URGENT, PriorityWorker


async def test_the_most_urgent_waiting_call_runs_next_then_arrival_order() -> None:
    worker = PriorityWorker("test")
    gate = threading.Event()
    ran: list[str] = []

    def blocked() -> None:
        gate.wait(5)
        ran.append("first")

    first = asyncio.create_task(worker.run(BULK, blocked))
    await asyncio.sleep(0.05)  # the worker thread is inside blocked()
    calls = [
        asyncio.create_task(worker.run(priority, ran.append, name))
        for priority, name in [(BULK, "bulk-a"), (BULK, "bulk-b"), (URGENT, "query")]
    ]
    await asyncio.sleep(0.05)
    gate.set()
    await asyncio.gather(first, *calls)
    assert ran == ["first", "query", "bulk-a", "bulk-b"]
    worker.close(lambda: RuntimeError("closed"))


async def test_results_and_errors_reach_their_callers() -> None:
    worker = PriorityWorker("test")

    def fails() -> None:
        raise ValueError("bad input")

    assert await worker.run(URGENT, sum, [1, 2, 3]) == 6
    with pytest.raises(ValueError, match="bad input"):
        await worker.run(BULK, fails)
    worker.close(lambda: RuntimeError("closed"))


async def test_a_cancelled_call_is_skipped_and_closing_fails_the_waiting_ones() -> None:
    worker = PriorityWorker("test")
    gate = threading.Event()
    ran: list[str] = []
    first = asyncio.create_task(worker.run(URGENT, gate.wait, 5))
    await asyncio.sleep(0.05)
    cancelled = asyncio.create_task(worker.run(BULK, ran.append, "cancelled"))
    kept = asyncio.create_task(worker.run(BULK, ran.append, "kept"))
    await asyncio.sleep(0.05)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled  # the caller has gone before the worker is free
    gate.set()
    await first
    await kept
    assert ran == ["kept"]

    gate.clear()
    blocking = asyncio.create_task(worker.run(URGENT, gate.wait, 5))
    await asyncio.sleep(0.05)
    waiting = asyncio.create_task(worker.run(BULK, ran.append, "never"))
    await asyncio.sleep(0.05)
    worker.close(lambda: ConnectionError("shut down"))
    with pytest.raises(ConnectionError, match="shut down"):
        await waiting
    gate.set()
    assert await blocking is True  # the call in progress finishes
    assert ran == ["kept"]
    with pytest.raises(RuntimeError, match="closed"):
        await worker.run(URGENT, ran.append, "after")
