"""Where the Gateway sends validated orders: a Ray Serve handle or an in-process model."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Protocol

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


class HandleBackend:
    """Scores in the Predictor deployment through a Ray Serve handle, coalescing calls."""

    def __init__(self, handle: Any, metrics: Metrics, max_in_flight: int = 1):
        self.handle = handle
        self.metrics = metrics
        self._coalescer: Coalescer[dict[str, Any], float] = Coalescer(self._call, max_in_flight)

    async def _call(self, records: list[dict[str, Any]]) -> list[float]:
        started = time.perf_counter()
        result: list[float] = await self.handle.predict.remote(records)
        self.metrics.backend_latency.observe(time.perf_counter() - started)
        self.metrics.backend_batch.observe(len(records))
        return result

    async def describe(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.handle.describe.remote()
        return result

    async def predict(self, records: list[dict[str, Any]]) -> list[float]:
        return await self._coalescer.submit(records)

    async def explain(
        self, records: list[dict[str, Any]], k: int, steps: int
    ) -> list[list[dict[str, Any]]]:
        result: list[list[dict[str, Any]]] = await self.handle.explain.remote(records, k, steps)
        return result
