"""Small config types of email generation (imported by ``serving.config``: keep it light)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class EngineKind(StrEnum):
    vllm = "vllm"
    openai = "openai"
    local = "local"
    template = "template"


class EmailFault(StrEnum):
    """Fault switch of the generator, for drills and tests: the engine call fails for real."""

    none = "none"
    raise_ = "raise"
    timeout = "timeout"


class EmailVariant(BaseModel):
    """One arm of an A/B test: engine, model and prompt version, with a traffic weight."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    engine: EngineKind
    model: str = Field("", description="empty: the engine's default model")
    prompt: str = Field("retention-email@2", pattern=r"^[a-z0-9-]+@\d+$")
    weight: float = Field(1.0, gt=0)


DEFAULT_MODELS = {
    EngineKind.vllm: "mistralai/Mistral-7B-Instruct-v0.3",
    EngineKind.openai: "gpt-4o-mini",
    EngineKind.local: "SmolLM2-135M-Instruct",
    EngineKind.template: "jinja",
}
