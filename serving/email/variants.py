"""A/B variants: (engine, model, prompt version) with weights; sticky per order id."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from serving.email.kinds import EmailVariant, EngineKind


def default_variants(engine: EngineKind, model: str, prompt: str) -> list[EmailVariant]:
    return [EmailVariant(name="default", engine=engine, model=model, prompt=prompt, weight=1.0)]


def check_variants(variants: Sequence[EmailVariant]) -> None:
    if not variants:
        raise ValueError("at least one email variant is needed")
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        raise ValueError(f"variant names must be unique: {names}")


def assign(order_id: str, variants: Sequence[EmailVariant]) -> EmailVariant:
    """Deterministic: the same order always gets the same variant, in every replica and run."""
    check_variants(variants)
    digest = hashlib.sha256(f"email-variant:{order_id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64 * sum(v.weight for v in variants)
    edge = 0.0
    for variant in variants:
        edge += variant.weight
        if point < edge:
            return variant
    return variants[-1]
