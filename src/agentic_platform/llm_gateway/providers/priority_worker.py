"""One worker thread that runs calls by priority, so a short request never waits for a bulk one.

A model that runs on every core (onnxruntime's intra-op threads) gains nothing from two runs
at once, so it gets one worker thread. With a plain executor that thread is first come, first
served: a search's one-text query embedding would wait behind a 300-turn indexing round.
Here every call waits in a heap ordered by (priority, arrival), and the thread always runs the
most urgent call waiting; a bulk caller splits its work into calls (a batch each), so an urgent
call waits at most for the batch in progress.

A call whose caller was cancelled is skipped, not run; closing fails every call still waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

URGENT = 0
"""Priority of a short call (a query, a few texts)."""
BULK = 1
"""Priority of the batches of a large call."""


@dataclass(order=True)
class _Call:
    priority: int
    arrival: int
    function: Callable[..., Any] = field(compare=False)
    args: tuple[Any, ...] = field(compare=False)
    loop: asyncio.AbstractEventLoop = field(compare=False)
    future: asyncio.Future[Any] = field(compare=False)
    abandoned: threading.Event = field(compare=False, default_factory=threading.Event)


class PriorityWorker:
    """Runs submitted calls in one thread, lowest priority number first, then in arrival order."""

    def __init__(self, name: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._lock = threading.Lock()
        self._waiting: list[_Call] = []
        self._arrivals = itertools.count()
        self._closed = False

    async def run(self, priority: int, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` in the worker thread, when no more urgent call waits."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        call = _Call(priority, next(self._arrivals), function, args, loop, future)
        future.add_done_callback(lambda done: call.abandoned.set() if done.cancelled() else None)
        with self._lock:
            if self._closed:
                raise RuntimeError("the worker is closed")
            heapq.heappush(self._waiting, call)
        self._executor.submit(self._run_most_urgent)
        return await future

    def close(self, error: Callable[[], BaseException]) -> None:
        """Stop: calls still waiting fail with ``error()``; the one running finishes."""
        with self._lock:
            self._closed = True
            waiting, self._waiting = self._waiting, []
        for call in waiting:
            _settle(call, None, error())
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _run_most_urgent(self) -> None:
        # One submission per call, so the heap holds a call for every run of this method
        # (unless close() emptied it).
        with self._lock:
            if not self._waiting:
                return
            call = heapq.heappop(self._waiting)
        if call.abandoned.is_set():
            return
        try:
            result = call.function(*call.args)
        except BaseException as exc:  # handed to the caller, whatever it is
            _settle(call, None, exc)
        else:
            _settle(call, result, None)


def _settle(call: _Call, result: Any, error: BaseException | None) -> None:
    def settle() -> None:
        if call.future.done():
            return
        if error is not None:
            call.future.set_exception(error)
        else:
            call.future.set_result(result)

    with contextlib.suppress(RuntimeError):  # the caller's loop has closed
        call.loop.call_soon_threadsafe(settle)
