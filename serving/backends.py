"""Where the Gateway sends validated orders: a Ray Serve handle or an in-process model."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Protocol, TypedDict

from serving import logs
from serving.coalesce import Coalescer
from serving.metrics import Metrics, ModelMetrics
from serving.scoring import Scorer
from training.registry import Registry


class PredictionBackend(Protocol):
    async def describe(self) -> dict[str, Any]: ...

    async def predict(self, records: list[dict[str, Any]]) -> list[float]: ...

    async def explain(
        self, records: list[dict[str, Any]], k: int, steps: int
    ) -> list[list[dict[str, Any]]]: ...


class LocalBackend:
    """Scores in this process (the plain-uvicorn app); the model loads in the background."""

    def __init__(self, registry: Registry, tag: str, metrics: ModelMetrics | None = None):
        self._scorer: Scorer | None = None
        self._error: Exception | None = None
        self._metrics = metrics
        self._thread = threading.Thread(target=self._load, args=(registry, tag), daemon=True)
        self._thread.start()

    def _load(self, registry: Registry, tag: str) -> None:
        try:
            self._scorer = Scorer(registry, tag, self._metrics)
        except Exception as exc:  # reported by every describe() until fixed
            self._error = exc

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until the background load has ended; True when the model is loaded."""
        self._thread.join(timeout_s)
        return self._scorer is not None

    @property
    def scorer(self) -> Scorer:
        if self._scorer is None:
            raise RuntimeError(str(self._error) if self._error else "still loading")
        return self._scorer

    async def describe(self) -> dict[str, Any]:
        return self.scorer.describe()

    async def predict(self, records: list[dict[str, Any]]) -> list[float]:
        if len(records) > 64:  # big batches leave the event loop free for other requests
            return await asyncio.to_thread(self.scorer.score, records)
        return self.scorer.score(records)

    async def explain(
        self, records: list[dict[str, Any]], k: int, steps: int
    ) -> list[list[dict[str, Any]]]:
        return await asyncio.to_thread(self.scorer.explain, records, k, steps)


Item = tuple[dict[str, Any], list[str | None]]  # a record and its [request_id, order_id]


class ScoringCall(TypedDict):
    """One Gateway -> Predictor call: records, and [request_id, order_id] for each."""

    records: list[dict[str, Any]]
    tags: list[list[str | None]]


class HandleBackend:
    """Scores in the Predictor deployment through a Ray Serve handle, coalescing calls.

    One call carries orders of several requests, so each record travels with its request and
    order id for the Predictor's log lines (Serve's own request id names only one of them).
    """

    def __init__(self, handle: Any, metrics: Metrics, max_in_flight: int = 1):
        self.handle = handle
        self.metrics = metrics
        self._coalescer: Coalescer[Item, float] = Coalescer(self._call, max_in_flight)

    async def _call(self, items: list[Item]) -> list[float]:
        call = ScoringCall(records=[r for r, _ in items], tags=[t for _, t in items])
        started = time.perf_counter()
        result: list[float] = await self.handle.predict.remote(call)
        self.metrics.backend_latency.observe(time.perf_counter() - started)
        self.metrics.backend_batch.observe(len(items))
        return result

    async def describe(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.handle.describe.remote()
        return result

    async def predict(self, records: list[dict[str, Any]]) -> list[float]:
        context = logs.current()
        ids = context.get("order_ids") or []
        if len(ids) != len(records):
            ids = [None] * len(records)
        rid = context.get("request_id")
        return await self._coalescer.submit(
            [(r, [rid, i]) for r, i in zip(records, ids, strict=True)]
        )

    async def explain(
        self, records: list[dict[str, Any]], k: int, steps: int
    ) -> list[list[dict[str, Any]]]:
        result: list[list[dict[str, Any]]] = await self.handle.explain.remote(records, k, steps)
        return result
