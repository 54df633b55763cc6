"""The fault switch: an engine whose calls really fail (raise, or hang past the timeout)."""

from __future__ import annotations

import asyncio

from serving.email.engines.base import Completion, Engine, EngineError, GenerationRequest
from serving.email.kinds import EmailFault


class FaultyEngine:
    """Wraps an engine; with ``fault`` set, every call fails the way a broken backend would."""

    def __init__(self, inner: Engine, fault: EmailFault, hang_s: float = 3600.0):
        self.inner = inner
        self.fault = fault
        self.hang_s = hang_s
        self.kind = inner.kind
        self.model = inner.model
        self.calls = 0

    async def load(self) -> None:
        await self.inner.load()

    async def generate(self, requests: list[GenerationRequest]) -> list[Completion]:
        self.calls += 1
        if self.fault is EmailFault.raise_:
            raise EngineError(f"fault switch OCS_EMAIL_FAULT=raise: {self.kind} engine down")
        if self.fault is EmailFault.timeout:
            await asyncio.sleep(self.hang_s)  # cut short by the generator's timeout
        return await self.inner.generate(requests)

    def healthy(self) -> bool:
        return self.inner.healthy()  # a drill must not make Serve restart the replica

    async def close(self) -> None:
        await self.inner.close()
