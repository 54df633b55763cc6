"""Merges concurrent scoring calls into fewer, larger calls to the Predictor.

A handle call between deployments costs far more than scoring one order (measured here: ~2.5 ms
against ~0.3 ms), so the Gateway never has more than ``max_in_flight`` calls outstanding:
requests that arrive meanwhile wait and travel together in the next call. A lone request goes
out at once, so this adds no latency when the service is idle.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Coalescer(Generic[T, R]):
    def __init__(
        self,
        call: Callable[[list[T]], Awaitable[list[R]]],
        max_in_flight: int = 2,
        max_items: int = 2048,
    ):
        if max_in_flight < 1 or max_items < 1:
            raise ValueError("max_in_flight and max_items must be at least 1")
        self._call = call
        self._max_in_flight = max_in_flight
        self._max_items = max_items
        self._queue: deque[tuple[list[T], asyncio.Future[list[R]]]] = deque()
        self._in_flight = 0
        self.calls = 0  # backend calls made, for tests and metrics

    async def submit(self, items: list[T]) -> list[R]:
        future: asyncio.Future[list[R]] = asyncio.get_running_loop().create_future()
        self._queue.append((items, future))
        if self._in_flight < self._max_in_flight:
            self._launch()
        return await future

    def _launch(self) -> None:
        batch: list[tuple[list[T], asyncio.Future[list[R]]]] = []
        size = 0
        while self._queue and (not batch or size + len(self._queue[0][0]) <= self._max_items):
            items, future = self._queue.popleft()
            if future.cancelled():
                continue
            batch.append((items, future))
            size += len(items)
        if not batch:
            return
        self._in_flight += 1
        self.calls += 1
        asyncio.get_running_loop().create_task(self._run(batch))

    async def _run(self, batch: list[tuple[list[T], asyncio.Future[list[R]]]]) -> None:
        try:
            flat = [item for items, _ in batch for item in items]
            results = await self._call(flat)
            if len(results) != len(flat):
                raise RuntimeError(f"backend returned {len(results)} results for {len(flat)}")
            start = 0
            for items, future in batch:
                if not future.done():
                    future.set_result(results[start : start + len(items)])
                start += len(items)
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
        finally:
            self._in_flight -= 1
            while self._queue and self._in_flight < self._max_in_flight:
                self._launch()
