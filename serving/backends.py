"""Where the Gateway sends validated orders: a Ray Serve handle or an in-process model."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from serving.scoring import Scorer


class PredictionBackend(Protocol):
    async def describe(self) -> dict[str, Any]: ...

    async def predict(self, records: list[dict[str, Any]]) -> list[float]: ...


class LocalBackend:
    """Scores in this process (the bare-uvicorn baseline and `ocs` tools)."""

    def __init__(self, scorer: Scorer):
        self.scorer = scorer

    async def describe(self) -> dict[str, Any]:
        return self.scorer.describe()

    async def predict(self, records: list[dict[str, Any]]) -> list[float]:
        if len(records) > 64:  # big batches leave the event loop free for other requests
            return await asyncio.to_thread(self.scorer.score, records)
        return self.scorer.score(records)


class HandleBackend:
    """Scores in the Predictor deployment through a Ray Serve handle."""

    def __init__(self, handle: Any):
        self.handle = handle

    async def describe(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.handle.describe.remote()
        return result

    async def predict(self, records: list[dict[str, Any]]) -> list[float]:
        result: list[float] = await self.handle.predict.remote(records)
        return result
