"""One engine call with a timeout, retried with exponential backoff and jitter (tenacity)."""

from __future__ import annotations

import asyncio
import logging

from tenacity import (
    AsyncRetrying,
    before_sleep_log,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from serving.email.engines.base import Completion, Engine, EngineError, GenerationRequest

log = logging.getLogger(__name__)
RETRYABLE = (EngineError, TimeoutError, OSError)


async def call_engine(
    engine: Engine,
    requests: list[GenerationRequest],
    *,
    timeout_s: float,
    retries: int,
    first_wait_s: float,
) -> list[Completion]:
    """The engine's completions; raises the last error once ``retries`` more tries failed."""
    retrying = AsyncRetrying(
        stop=stop_after_attempt(retries + 1),
        wait=wait_exponential_jitter(initial=first_wait_s, max=30, jitter=first_wait_s or 0.1),
        retry=retry_if_exception_type(RETRYABLE),
        before_sleep=before_sleep_log(log, logging.WARNING),
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            async with asyncio.timeout(timeout_s):
                completions = await engine.generate(requests)
            if len(completions) != len(requests):
                raise EngineError(f"{len(completions)} completions for {len(requests)} prompts")
            return completions
    raise AssertionError("unreachable: tenacity reraises the last error")
