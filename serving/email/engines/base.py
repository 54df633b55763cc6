"""The engine interface: a lifecycle plus batched generation of chat prompts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class EngineError(RuntimeError):
    """An engine call failed in a way worth retrying (connection, server error, bad output)."""


class EngineUnavailable(RuntimeError):
    """The engine can't start here (missing extra, missing model); the message says what to do."""


@dataclass(frozen=True)
class GenerationParams:
    temperature: float = 0.7
    top_p: float = 0.9
    max_tokens: int = 400
    seed: int | None = None


@dataclass(frozen=True)
class GenerationRequest:
    """One chat prompt; ``context`` is the order (the template engine writes from it alone)."""

    messages: list[dict[str, str]]
    params: GenerationParams = field(default_factory=GenerationParams)
    json_schema: dict[str, Any] | None = None
    context: dict[str, Any] | None = None


@dataclass(frozen=True)
class Completion:
    text: str
    tokens_in: int = 0
    tokens_out: int = 0
    finish_reason: str = "stop"


class Engine(Protocol):
    """``load()`` once, then ``generate()`` any number of batches; ``close()`` frees it."""

    kind: str
    model: str

    async def load(self) -> None: ...

    async def generate(self, requests: list[GenerationRequest]) -> list[Completion]: ...

    def healthy(self) -> bool: ...

    async def close(self) -> None: ...


# The output every LLM engine is asked for (vLLM enforces it with structured outputs).
EMAIL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "subject": {"type": "string", "minLength": 3, "maxLength": 120},
        "body": {"type": "string", "minLength": 40, "maxLength": 3000},
    },
    "required": ["subject", "body"],
    "additionalProperties": False,
}
