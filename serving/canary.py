"""Canary assignment: which track an order goes to, and the Gateway's canary settings.

Pure functions of their inputs: the same order id always lands on the same track for a given
weight, in every Gateway replica and across restarts (a stable hash, never Python's ``hash()``,
which is salted per process).
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

Track = Literal["stable", "canary"]
BUCKETS = 100


def bucket(order_id: str) -> int:
    """The order's bucket in 0..99: the first 8 bytes of its SHA-256, modulo 100."""
    digest = hashlib.sha256(order_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def assign_track(order_id: str, weight: int) -> Track:
    """``canary`` when the order's bucket is below the weight (percent), else ``stable``.

    Raising the weight only moves orders from stable to canary, never back: an order on the
    canary at weight 10 stays there at weight 50.
    """
    return "canary" if bucket(order_id) < weight else "stable"


class CanaryError(ValueError):
    """The Gateway's ``user_config.canary`` is invalid; the message names the field."""


class CanarySettings(BaseModel):
    """``user_config: {canary: {enabled, weight, shadow}}`` of the Gateway deployment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(False, description="route to the canary Predictor at all")
    weight: int = Field(0, ge=0, le=100, description="percent of orders on the canary track")
    shadow: bool = Field(
        False, description="canary scores every order in the background; only stable answers"
    )

    @classmethod
    def from_user_config(cls, config: dict[str, Any] | None) -> CanarySettings:
        raw = (config or {}).get("canary") or {}
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"canary.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise CanaryError(f"invalid Gateway user_config: {problems}") from exc

    def effective_weight(self, has_canary: bool) -> int:
        """Percent of orders the canary answers: 0 when disabled, absent or in shadow mode."""
        if not (self.enabled and has_canary) or self.shadow:
            return 0
        return self.weight

    def shadows(self, has_canary: bool) -> bool:
        return self.enabled and self.shadow and has_canary


def split(order_ids: list[str], weight: int) -> tuple[list[int], list[int]]:
    """Indices of the orders on the stable track and on the canary track."""
    stable: list[int] = []
    canary: list[int] = []
    for i, order_id in enumerate(order_ids):
        (canary if assign_track(order_id, weight) == "canary" else stable).append(i)
    return stable, canary
