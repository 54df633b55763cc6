"""The OpenAI-compatible engine: a vLLM server, Ray Serve LLM, a hosted model, or this Gateway."""

from __future__ import annotations

import asyncio
from typing import Any

from serving.email.engines.base import Completion, EngineError, GenerationRequest


def response_format(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    """OpenAI's structured-output request (vLLM's server honours it too)."""
    if schema is None:
        return None
    return {"type": "json_schema", "json_schema": {"name": "email", "schema": schema}}


class OpenAIEngine:
    kind = "openai"

    def __init__(self, base_url: str, api_key: str, model: str, timeout_s: float = 60.0):
        self.base_url = base_url
        self.api_key = api_key
        self.model = model
        self.timeout_s = timeout_s
        self._client: Any = None

    async def load(self) -> None:
        from openai import AsyncOpenAI

        # No client-side retries: the generator retries with backoff and counts every try.
        self._client = AsyncOpenAI(
            base_url=self.base_url,
            api_key=self.api_key or "unset",
            timeout=self.timeout_s,
            max_retries=0,
        )

    async def generate(self, requests: list[GenerationRequest]) -> list[Completion]:
        return list(await asyncio.gather(*(self._one(r) for r in requests)))

    async def _one(self, request: GenerationRequest) -> Completion:
        import openai

        if self._client is None:
            raise EngineError("the openai engine is not loaded")
        extra: dict[str, Any] = {}
        fmt = response_format(request.json_schema)
        if fmt is not None:
            extra["response_format"] = fmt
        if request.params.seed is not None:
            extra["seed"] = request.params.seed
        try:
            response = await self._client.chat.completions.create(
                model=self.model,
                messages=request.messages,
                temperature=request.params.temperature,
                top_p=request.params.top_p,
                max_tokens=request.params.max_tokens,
                **extra,
            )
        except openai.APIError as exc:
            raise EngineError(f"{self.base_url}: {type(exc).__name__}: {exc}") from exc
        if not response.choices:
            raise EngineError(f"{self.base_url} returned no choices")
        choice = response.choices[0]
        usage = response.usage
        return Completion(
            text=choice.message.content or "",
            tokens_in=usage.prompt_tokens if usage else 0,
            tokens_out=usage.completion_tokens if usage else 0,
            finish_reason=choice.finish_reason or "stop",
        )

    def healthy(self) -> bool:
        return self._client is not None

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
