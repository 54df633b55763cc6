"""Canary versus stable: the figures, the checks and a verdict (promote, hold or rollback).

Pure: works on the reports of ``GET /v1/canary`` (one per Gateway replica, merged) and, where
outcomes are known, a map of order id to whether it was cancelled.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import IntEnum
from typing import Any

import numpy as np

from serving.config import Settings


class Verdict(IntEnum):
    """The exit code of ``ocs canary analyze`` (2 stays for usage errors)."""

    promote = 0
    hold = 3
    rollback = 4


@dataclass(frozen=True)
class Thresholds:
    min_orders: int = 200
    max_error_rate_increase: float = 0.01
    max_p95_ratio: float = 1.5
    min_p95_increase_s: float = 0.05
    ks_alpha: float = 0.01
    max_ks_statistic: float = 0.15
    min_agreement: float = 0.9
    max_accuracy_drop: float = 0.02
    max_brier_increase: float = 0.01
    min_outcomes: int = 50

    @classmethod
    def from_settings(cls, s: Settings) -> Thresholds:
        return cls(
            min_orders=s.canary_min_orders,
            max_error_rate_increase=s.canary_max_error_rate_increase,
            max_p95_ratio=s.canary_max_p95_ratio,
            min_p95_increase_s=s.canary_min_p95_increase_s,
            ks_alpha=s.canary_ks_alpha,
            max_ks_statistic=s.canary_max_ks_statistic,
            min_agreement=s.canary_min_agreement,
            max_accuracy_drop=s.canary_max_accuracy_drop,
            max_brier_increase=s.canary_max_brier_increase,
        )


@dataclass
class TrackFigures:
    orders: int
    calls: int
    errors: int
    error_rate: float
    p95_s: float | None
    mean_score: float | None
    accuracy: float | None
    brier: float | None
    outcomes: int


@dataclass
class Analysis:
    verdict: Verdict
    reasons: list[str]
    tracks: dict[str, TrackFigures]
    ks_statistic: float | None = None
    ks_pvalue: float | None = None
    agreement: float | None = None
    checks: dict[str, bool] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["verdict"] = self.verdict.name
        return out


def merge_reports(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Sum the counts and pool the samples of several Gateway replicas' reports."""
    tracks: dict[str, dict[str, Any]] = {}
    shadow = {"compared": 0, "agreed": 0}
    for report in reports:
        for name, t in report["tracks"].items():
            acc = tracks.setdefault(
                name, {"orders": 0, "calls": 0, "errors": 0, "latencies_s": [], "scores": []}
            )
            for key in ("orders", "calls", "errors"):
                acc[key] += t[key]
            acc["latencies_s"] += t["latencies_s"]
            acc["scores"] += t["scores"]
        shadow["compared"] += report["shadow"]["compared"]
        shadow["agreed"] += report["shadow"]["agreed"]
    return {"tracks": tracks, "shadow": shadow}


def _figures(t: dict[str, Any], outcomes: dict[str, bool]) -> TrackFigures:
    latencies = np.asarray(t["latencies_s"], dtype=float)
    scores = np.asarray([s for _, s in t["scores"]], dtype=float)
    known = [(s, outcomes[o]) for o, s in t["scores"] if o in outcomes]
    judged = [(s >= 0.5) == y for s, y in known]
    return TrackFigures(
        orders=t["orders"],
        calls=t["calls"],
        errors=t["errors"],
        error_rate=t["errors"] / t["calls"] if t["calls"] else 0.0,
        p95_s=float(np.percentile(latencies, 95)) if latencies.size else None,
        mean_score=float(scores.mean()) if scores.size else None,
        accuracy=float(np.mean(judged)) if judged else None,
        brier=float(np.mean([(s - y) ** 2 for s, y in known])) if known else None,
        outcomes=len(judged),
    )


def analyze(
    report: dict[str, Any], th: Thresholds, outcomes: dict[str, bool] | None = None
) -> Analysis:
    """Checks in order of severity; any failed check means rollback, too little data hold."""
    from scipy.stats import ks_2samp

    outcomes = outcomes or {}
    raw = report["tracks"]
    figs = {name: _figures(raw[name], outcomes) for name in ("stable", "canary")}
    stable, canary = figs["stable"], figs["canary"]
    out = Analysis(Verdict.promote, [], figs)
    few = [n for n, f in figs.items() if f.orders < th.min_orders]
    if few:
        out.verdict = Verdict.hold
        counts = ", ".join(f"{n} {figs[n].orders}" for n in few)
        out.reasons.append(f"too few orders to judge ({counts}; need {th.min_orders} per track)")
        return out

    def check(name: str, ok: bool, why: str) -> None:
        out.checks[name] = ok
        if not ok:
            out.verdict = Verdict.rollback
            out.reasons.append(why)

    increase = canary.error_rate - stable.error_rate
    check(
        "error_rate",
        increase <= th.max_error_rate_increase,
        f"canary error rate {canary.error_rate:.3%} vs stable {stable.error_rate:.3%} "
        f"(more than +{th.max_error_rate_increase:.2%})",
    )
    if stable.p95_s is not None and canary.p95_s is not None:
        slower = canary.p95_s > stable.p95_s * th.max_p95_ratio
        check(
            "p95_latency",
            not (slower and canary.p95_s - stable.p95_s > th.min_p95_increase_s),
            f"canary p95 {canary.p95_s * 1000:.1f} ms vs stable {stable.p95_s * 1000:.1f} ms "
            f"(over x{th.max_p95_ratio})",
        )
    a = [s for _, s in raw["stable"]["scores"]]
    b = [s for _, s in raw["canary"]["scores"]]
    if a and b:
        result = ks_2samp(a, b)
        out.ks_statistic, out.ks_pvalue = float(result.statistic), float(result.pvalue)
        check(
            "score_distribution",
            not (out.ks_pvalue < th.ks_alpha and out.ks_statistic > th.max_ks_statistic),
            f"canary scores are distributed differently: KS D={out.ks_statistic:.3f} "
            f"(max {th.max_ks_statistic}), p={out.ks_pvalue:.2g}",
        )
    shadow = report.get("shadow", {})
    if shadow.get("compared", 0) >= th.min_orders:
        out.agreement = shadow["agreed"] / shadow["compared"]
        check(
            "shadow_agreement",
            out.agreement >= th.min_agreement,
            f"shadow risk bands agree on {out.agreement:.1%} (min {th.min_agreement:.0%})",
        )
    if (
        stable.accuracy is not None
        and canary.accuracy is not None
        and min(stable.outcomes, canary.outcomes) >= th.min_outcomes
    ):
        check(
            "realized_accuracy",
            stable.accuracy - canary.accuracy <= th.max_accuracy_drop,
            f"realized accuracy canary {canary.accuracy:.3f} vs stable {stable.accuracy:.3f}",
        )
        # Accuracy at 0.5 rewards a model that always says "fulfilled" when few orders are
        # cancelled; the Brier score also sees how far each probability was from the outcome.
        assert stable.brier is not None and canary.brier is not None
        check(
            "realized_brier",
            canary.brier - stable.brier <= th.max_brier_increase,
            f"realized Brier score canary {canary.brier:.4f} vs stable {stable.brier:.4f} "
            f"(more than +{th.max_brier_increase})",
        )
    if out.verdict is Verdict.promote:
        out.reasons.append(f"all {len(out.checks)} checks passed: " + ", ".join(out.checks))
    return out
