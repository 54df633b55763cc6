"""Per-track figures one Gateway replica keeps for canary analysis (bounded memory).

Counts are exact since the replica started; latencies and scores are the most recent
``samples`` values of each track, enough for a p95 and a two-sample KS test.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

TRACKS = ("stable", "canary")


@dataclass
class TrackStats:
    samples: int
    orders: int = 0
    calls: int = 0
    errors: int = 0
    latencies: deque[float] = field(init=False)
    scores: deque[tuple[str, float]] = field(init=False)

    def __post_init__(self) -> None:
        self.latencies = deque(maxlen=self.samples)
        self.scores = deque(maxlen=self.samples)

    def snapshot(self) -> dict[str, Any]:
        return {
            "orders": self.orders,
            "calls": self.calls,
            "errors": self.errors,
            "latencies_s": list(self.latencies),
            "scores": [[order_id, score] for order_id, score in self.scores],
        }


@dataclass
class ShadowStats:
    compared: int = 0
    agreed: int = 0
    abs_diff_sum: float = 0.0

    def snapshot(self) -> dict[str, Any]:
        return {
            "compared": self.compared,
            "agreed": self.agreed,
            "agreement": self.agreed / self.compared if self.compared else None,
            "mean_abs_diff": self.abs_diff_sum / self.compared if self.compared else None,
        }


class CanaryStats:
    """What ``GET /v1/canary`` reports; updated by the canary backend on every scoring call."""

    def __init__(self, samples: int = 5000):
        self.started = time.time()
        self.tracks = {t: TrackStats(samples) for t in TRACKS}
        self.shadow = ShadowStats()

    def record_call(
        self, track: str, order_ids: list[str], scores: list[float], elapsed_s: float
    ) -> None:
        stats = self.tracks[track]
        stats.calls += 1
        stats.orders += len(order_ids)
        stats.latencies.append(elapsed_s)
        stats.scores.extend(zip(order_ids, scores, strict=True))

    def record_error(self, track: str, orders: int) -> None:
        stats = self.tracks[track]
        stats.calls += 1
        stats.errors += 1
        stats.orders += orders

    def record_shadow(self, stable_bands: list[str], canary_bands: list[str], diffs: float) -> None:
        self.shadow.compared += len(stable_bands)
        self.shadow.agreed += sum(a == b for a, b in zip(stable_bands, canary_bands, strict=True))
        self.shadow.abs_diff_sum += diffs

    def snapshot(self) -> dict[str, Any]:
        return {
            "since": self.started,
            "tracks": {t: s.snapshot() for t, s in self.tracks.items()},
            "shadow": self.shadow.snapshot(),
        }
