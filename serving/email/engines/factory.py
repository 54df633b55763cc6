"""Builds the engine of a variant from settings (heavy backends import inside ``load()``)."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from serving.config import Settings
from serving.email.engines.base import Engine
from serving.email.engines.faulty import FaultyEngine
from serving.email.engines.template import TemplateEngine
from serving.email.kinds import DEFAULT_MODELS, EmailFault, EngineKind
from serving.email.prompts import PromptLibrary


def resolve_weights(model: str, weights_dir: Path | None) -> str:
    """``<weights_dir>/<model>`` when the cache holds that model, else the hub id as given."""
    if weights_dir is not None and (weights_dir / model).is_dir():
        return str(weights_dir / model)
    return model


def build_engine(
    kind: EngineKind, model: str, settings: Settings, library: PromptLibrary
) -> Engine:
    model = model or DEFAULT_MODELS[kind]
    engine: Engine
    if kind is EngineKind.template:
        engine = TemplateEngine(library, model)
    elif kind is EngineKind.local:
        from serving.email.engines.local import LocalEngine

        engine = LocalEngine(
            model,
            settings.local_model_path,
            settings.local_device,
            settings.email_max_batch,
            settings.local_threads,
        )
    elif kind is EngineKind.openai:
        from serving.email.engines.openai_engine import OpenAIEngine

        engine = OpenAIEngine(
            settings.openai_base_url, settings.openai_api_key, model, settings.email_timeout_s
        )
    else:
        from serving.email.engines.vllm_engine import VllmEngine, VllmOptions

        options = {f.name: getattr(settings, f"vllm_{f.name}") for f in fields(VllmOptions)}
        engine = VllmEngine(
            resolve_weights(model, settings.llm_weights_dir), VllmOptions(**options)
        )
    if settings.email_fault is not EmailFault.none:
        engine = FaultyEngine(engine, settings.email_fault)
    return engine
